"""RFC 6381 codec strings for HLS ``CODECS`` attributes."""

from __future__ import annotations

from media.errors import MediaError

#: AAC-LC in MP4 (object type 0x40, audio object type 2).
AAC_LC = "mp4a.40.2"


def avc1_codec_string(extradata: bytes) -> str:
    """``avc1.PPCCLL`` from H.264 extradata: an avcC record or Annex B SPS/PPS NAL units.

    PP is profile_idc, CC the constraint-set flags and LL level_idc of the sequence parameter set.
    """
    if len(extradata) >= 4 and extradata[0] == 1:  # avcC: version, profile, compat, level
        return f"avc1.{extradata[1]:02x}{extradata[2]:02x}{extradata[3]:02x}"
    for nal in _annex_b_units(extradata):
        if nal and nal[0] & 0x1F == 7 and len(nal) >= 4:  # sequence parameter set
            return f"avc1.{nal[1]:02x}{nal[2]:02x}{nal[3]:02x}"
    raise MediaError("the H.264 stream carries no sequence parameter set to name its codec")


def _annex_b_units(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream (split on 00 00 01 start codes)."""
    units = []
    for chunk in data.split(b"\x00\x00\x01")[1:]:
        units.append(chunk.rstrip(b"\x00"))
    return units


def hvc1_codec_string(extradata: bytes) -> str:
    """``hvc1.<space><profile>.<compat>.<tier><level>.<constraints>`` from an hvcC record."""
    if len(extradata) < 23 or extradata[0] != 1:
        raise MediaError("the HEVC stream carries no hvcC record to name its codec")
    space = "" if not extradata[1] >> 6 else "ABC"[(extradata[1] >> 6) - 1]
    tier = "H" if extradata[1] & 0x20 else "L"
    profile = extradata[1] & 0x1F
    compat = int(f"{int.from_bytes(extradata[2:6], 'big'):032b}"[::-1], 2)
    constraints = list(extradata[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    parts = [f"hvc1.{space}{profile}", f"{compat:X}", f"{tier}{extradata[12]}"]
    parts += [f"{byte:02X}" for byte in constraints]
    return ".".join(parts)


def av01_codec_string(extradata: bytes) -> str:
    """``av01.P.LLT.DD`` (profile, level, tier, bit depth) from an av1C record."""
    if len(extradata) < 4 or extradata[0] & 0x7F != 1:
        raise MediaError("the AV1 stream carries no av1C record to name its codec")
    profile, level = extradata[1] >> 5, extradata[1] & 0x1F
    tier = "H" if extradata[2] & 0x80 else "M"
    depth = (12 if extradata[2] & 0x20 else 10) if extradata[2] & 0x40 else 8
    return f"av01.{profile}.{level:02d}{tier}.{depth:02d}"


def video_codec_string(codec: str, extradata: bytes) -> str:
    """The RFC 6381 string of an FFmpeg video codec name (h264, hevc, av1) and its extradata."""
    if codec == "h264":
        return avc1_codec_string(extradata)
    if codec == "hevc":
        return hvc1_codec_string(extradata)
    if codec == "av1":
        return av01_codec_string(extradata)
    raise MediaError(f"{codec} video cannot be packaged for HLS; use H.264, HEVC or AV1")


def aac_codec_string(extradata: bytes) -> str:
    """``mp4a.40.<audio object type>`` from an AAC AudioSpecificConfig (AAC-LC if absent)."""
    if not extradata:
        return AAC_LC
    object_type = extradata[0] >> 3
    if object_type == 31 and len(extradata) >= 2:
        object_type = 32 + ((extradata[0] & 0x07) << 3 | extradata[1] >> 5)
    return f"mp4a.40.{object_type}"
