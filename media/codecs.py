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
