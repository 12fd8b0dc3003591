"""Fixed word lists the synthetic demo world is built from (changing them changes every world)."""

from __future__ import annotations

GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Family",
    "Fantasy",
    "Horror",
    "Music",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Sports",
    "Thriller",
    "Travel",
    "Cooking",
)

#: Tags typical of each genre (same order as ``GENRES``).
GENRE_TAGS: tuple[tuple[str, ...], ...] = (
    ("explosions", "car chase", "heist", "martial arts", "hero"),
    ("quest", "expedition", "treasure", "journey", "survival"),
    ("cartoon", "stop motion", "anime", "hand drawn", "cgi"),
    ("sitcom", "satire", "parody", "stand-up", "slapstick"),
    ("detective", "gangster", "true crime", "courtroom", "noir"),
    ("nature", "history", "science", "biography", "investigative"),
    ("family drama", "coming of age", "period piece", "tearjerker", "character study"),
    ("kids", "all ages", "holiday", "friendship", "pets"),
    ("magic", "dragons", "fairy tale", "mythology", "wizards"),
    ("haunted", "slasher", "zombies", "psychological", "supernatural"),
    ("concert", "live", "band", "musical", "behind the scenes"),
    ("whodunit", "puzzle", "cold case", "secrets", "twist ending"),
    ("love story", "wedding", "romcom", "first date", "heartbreak"),
    ("space", "robots", "time travel", "dystopia", "aliens"),
    ("football", "basketball", "highlights", "olympics", "underdog"),
    ("suspense", "conspiracy", "spy", "chase", "hostage"),
    ("road trip", "islands", "city guide", "backpacking", "mountains"),
    ("recipes", "baking", "street food", "chef", "vegetarian"),
)

GENERAL_TAGS: tuple[str, ...] = (
    "award winning",
    "classic",
    "new",
    "short",
    "series",
    "indie",
    "4k",
    "based on a true story",
    "cult",
    "feel good",
)

#: Languages and their share of the catalogue.
LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "ja", "ko", "hi", "pt")
LANGUAGE_WEIGHTS: tuple[float, ...] = (0.55, 0.12, 0.08, 0.06, 0.06, 0.05, 0.05, 0.03)

#: Client apps users watch on.
CLIENTS: tuple[str, ...] = ("web", "ios", "android", "tv")
CLIENT_WEIGHTS: tuple[float, ...] = (0.3, 0.25, 0.25, 0.2)

#: Relative share of sessions starting in each UTC hour (an evening peak).
HOURLY_ACTIVITY: tuple[float, ...] = (
    3, 2, 1.5, 1, 1, 1, 1.5, 2.5, 3, 3, 3, 3.5, 4, 4, 4, 4, 4.5, 5.5, 7, 8.5, 9, 8.5, 7, 5
)  # fmt: skip

ADJECTIVES: tuple[str, ...] = (
    "Silent", "Crimson", "Golden", "Broken", "Hidden", "Electric", "Midnight", "Lost",
    "Wild", "Frozen", "Burning", "Distant", "Secret", "Last", "Hollow", "Bright", "Iron",
    "Velvet", "Restless", "Forgotten", "Endless", "Savage", "Gentle", "Neon", "Ancient",
    "Little", "Final", "Dark", "Emerald", "Rising",
)  # fmt: skip

NOUNS: tuple[str, ...] = (
    "River", "Empire", "Harbor", "Garden", "Signal", "Horizon", "Kingdom", "Machine",
    "Station", "Ocean", "Forest", "Mirror", "Voyage", "Shadow", "Orchard", "Circuit",
    "Canyon", "Lantern", "Planet", "Island", "Summit", "Echo", "Frontier", "Castle",
    "Tide", "Desert", "Comet", "Market", "Kitchen", "Stadium",
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "ana", "ben", "chloe", "dev", "elena", "farid", "grace", "hiro", "isla", "jonas",
    "kemi", "liam", "maya", "noah", "olga", "pablo", "quinn", "rosa", "sami", "tara",
    "uma", "victor", "wen", "xavi", "yara", "zoe",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "smith", "garcia", "kim", "novak", "okafor", "rossi", "tanaka", "silva", "muller",
    "dubois", "patel", "cohen", "larsen", "haddad", "ivanova", "nguyen",
)  # fmt: skip

CHANNEL_SUFFIXES: tuple[str, ...] = ("Studios", "TV", "Films", "Channel", "Media", "Pictures")

FORMATS: tuple[str, ...] = ("film", "episode", "short", "documentary", "special", "mini-series")

COMMENT_OPENERS: tuple[str, ...] = (
    "Loved the",
    "Not sure about the",
    "Can't stop thinking about the",
    "Whoever made the",
    "Came for the",
    "Watched it twice for the",
)

COMMENT_ENDINGS: tuple[str, ...] = (
    "- brilliant!",
    "but the ending dragged.",
    "deserves more views.",
    "made my day.",
    "was unexpected.",
    "needs a sequel.",
)

REPLY_BODIES: tuple[str, ...] = (
    "Totally agree!",
    "Hard disagree, it was great.",
    "Same here.",
    "Did you catch the twist?",
    "Thanks for the tip, watching now.",
)
