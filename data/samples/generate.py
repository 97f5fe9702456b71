"""Generate the sample day files in ``data/samples/``.

Writes, byte-identically on every run with the default arguments:

- ``helsinki-day.json``: a whole working day in the Helsinki metro area
  (Helsinki, Espoo, Vantaa, Kauniainen), seeded and random but realistic;
- ``helsinki-day/jobs.csv`` and ``helsinki-day/technicians.csv``: the same day
  in the CSV format of ``docs/day-file.md``;
- ``small-day.json``: a hand-made day of 3 technicians and 12 jobs in central
  Helsinki, small enough to check a plan by hand in a test.

Every street in ``PLACES`` is a real street address with the coordinates of a
point on it (municipal playground and map data, converted from ETRS-GK25 to
WGS84). A job is placed at a small random offset (less than ``radius_m``,
at most 250 m) around one of them, with a house number near the real one.

The script uses the standard library only. Usage::

    python data/samples/generate.py            # rewrite the committed samples
    python data/samples/generate.py --summary  # also print counts and capacity
    python data/samples/generate.py --seed 7 --technicians 25 --jobs 64 --out /tmp/day
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.csvfile import TECHNICIAN_COLUMNS

Record = dict[str, Any]  # a JSON object as written to the day file
Skills = dict[str, int]  # skill code -> minimum (job) or held (technician) level

SEED = 20261201
DATE = "2026-12-01"
TIMEZONE = "Europe/Helsinki"
REGION = "helsinki"
# 180 jobs of the measure/install/repair mix need ~26,000 person-minutes: 70 technicians
# (35,700 net shift minutes) make that a full but plannable day; 25 would be 218% loaded.
DEFAULT_TECHNICIANS = 70
DEFAULT_JOBS = 180

SAMPLES_DIR = Path(__file__).resolve().parent

SKILLS = ("measure", "wardrobe", "kitchen", "worktop_stone", "electrical", "plumbing", "glass")
# No technician is generated above these levels, so a job asking for more is unservable.
MAX_LEVEL = {"worktop_stone": 2, "glass": 2}

JOB_HEADER = [
    "id",
    "kind",
    "lat",
    "lon",
    "address",
    "customer_name",
    "customer_phone",
    "duration_min",
    "skills",
    "crew_size",
    "windows",
    "preferred_start",
    "preferred_end",
    "soft_penalty_per_min",
    "release_at",
    "deadline",
    "priority",
    "pinned_technician_id",
    "preferred_technician_id",
    "notes",
]
TECHNICIAN_HEADER = list(TECHNICIAN_COLUMNS)

# Road travel assumed by the capacity estimate in ``summary`` (not written to any file).
ROAD_FACTOR = 1.3
SPEED_KMH = 32.0
PARKING_MIN = 5


@dataclass(frozen=True)
class Place:
    """A real street address used as an anchor for homes and job sites."""

    street: str
    number: int
    postcode: str
    city: str
    district: str
    lat: float
    lon: float
    radius_m: int = 250
    houses: bool = False


def _place(
    street: str,
    number: int,
    postcode: str,
    city: str,
    district: str,
    lat: float,
    lon: float,
    radius_m: int = 250,
    houses: bool = False,
) -> Place:
    """Build a `Place`; ``radius_m`` is smaller near the shore, ``houses`` marks detached houses."""
    return Place(street, number, postcode, city, district, lat, lon, radius_m, houses)


PLACES: tuple[Place, ...] = (
    # Helsinki, inner city
    _place("Mannerheimintie", 81, "00270", "Helsinki", "Ruskeasuo", 60.19390, 24.90842, 200),
    _place("Tavaststjernankatu", 9, "00250", "Helsinki", "Taka-Töölö", 60.18619, 24.91288, 200),
    _place("Välskärinkatu", 14, "00260", "Helsinki", "Keski-Töölö", 60.18092, 24.92001, 200),
    _place("Perhonkatu", 8, "00100", "Helsinki", "Etu-Töölö", 60.17074, 24.92216, 200),
    _place("Apollonkatu", 13, "00100", "Helsinki", "Etu-Töölö", 60.17616, 24.92519, 150),
    _place("Lutherinkatu", 2, "00100", "Helsinki", "Etu-Töölö", 60.17342, 24.92623, 150),
    _place("Sepänkatu", 2, "00150", "Helsinki", "Punavuori", 60.15887, 24.93948, 150),
    _place("Kapteeninkatu", 20, "00140", "Helsinki", "Ullanlinna", 60.15773, 24.94513, 100),
    _place("Johanneksentie", 4, "00120", "Helsinki", "Punavuori", 60.16159, 24.94430, 150),
    _place("Ruoholahdenkatu", 4, "00180", "Helsinki", "Kamppi", 60.16631, 24.92875, 150),
    _place("Santakuja", 3, "00180", "Helsinki", "Ruoholahti", 60.16220, 24.91822, 100),
    _place("Toinen linja", 6, "00530", "Helsinki", "Kallio", 60.18301, 24.94399, 200),
    _place("Kaarlenkatu", 17, "00510", "Helsinki", "Kallio", 60.18728, 24.95098, 200),
    _place("Porvoonkatu", 4, "00510", "Helsinki", "Alppila", 60.18888, 24.95020, 200),
    _place("Kangasalantie", 11, "00550", "Helsinki", "Vallila", 60.19717, 24.95733),
    _place("Kasöörinkatu", 3, "00520", "Helsinki", "Itä-Pasila", 60.19859, 24.94258),
    _place("Pasilan puistotie", 8, "00240", "Helsinki", "Länsi-Pasila", 60.19934, 24.92451),
    _place("Risto Rytin tie", 24, "00570", "Helsinki", "Kulosaari", 60.18710, 25.01483, 120),
    # Helsinki, west
    _place("Koillisväylä", 12, "00200", "Helsinki", "Lauttasaari", 60.16278, 24.88479, 150),
    _place("Lauttasaarentie", 40, "00200", "Helsinki", "Lauttasaari", 60.16024, 24.87632, 150),
    _place("Kivitorpantie", 5, "00330", "Helsinki", "Munkkiniemi", 60.20054, 24.88046, 200),
    _place("Ulvilantie", 17, "00350", "Helsinki", "Munkkivuori", 60.20694, 24.86552),
    _place("Isonnevantie", 16, "00320", "Helsinki", "Haaga", 60.21347, 24.89206),
    _place("Kornetintie", 18, "00380", "Helsinki", "Pitäjänmäki", 60.21767, 24.87217),
    _place("Konalantie", 5, "00370", "Helsinki", "Konala", 60.22847, 24.85298),
    _place("Ida Aalbergin tie", 8, "00400", "Helsinki", "Lassila", 60.22904, 24.89636),
    _place("Kanneltie", 1, "00420", "Helsinki", "Kannelmäki", 60.24143, 24.88022),
    _place("Pakarituvantie", 4, "00410", "Helsinki", "Malminkartano", 60.24409, 24.86382),
    _place("Kuopuksentie", 3, "00430", "Helsinki", "Maununneva", 60.25449, 24.89538),
    _place("Lehtovuorenkatu", 7, "00390", "Helsinki", "Kuninkaantammi", 60.24718, 24.83482),
    # Helsinki, north
    _place("Intiankatu", 44, "00560", "Helsinki", "Toukola", 60.21142, 24.95913, 200),
    _place("Turjantie", 3, "00610", "Helsinki", "Käpylä", 60.20975, 24.94148),
    _place("Mäkitorpantie", 42, "00640", "Helsinki", "Oulunkylä", 60.22858, 24.95954),
    _place("Kuusikkotie", 2, "00630", "Helsinki", "Maunula", 60.23107, 24.92864),
    _place("Etupellontie", 8, "00680", "Helsinki", "Pakila", 60.24294, 24.95972, houses=True),
    _place("Käräjätuvantie", 3, "00690", "Helsinki", "Torpparinmäki", 60.25872, 24.95069),
    _place("Ampujantie", 3, "00700", "Helsinki", "Malmi", 60.24943, 25.01797),
    _place("Tyynelänkuja", 7, "00700", "Helsinki", "Malmi", 60.25150, 24.99655),
    _place("Maasälväntie", 3, "00710", "Helsinki", "Pihlajamäki", 60.23731, 25.01296),
    _place("Unikkotie", 8, "00720", "Helsinki", "Pukinmäki", 60.24524, 24.99043),
    _place("Päivölänkuja", 5, "00730", "Helsinki", "Tapanila", 60.26318, 25.02540, houses=True),
    _place("Jalopeurantie", 8, "00740", "Helsinki", "Suutarila", 60.27533, 24.98762, houses=True),
    _place("Härkävaljakontie", 16, "00750", "Helsinki", "Puistola", 60.28386, 25.03566, 250, True),
    _place("Nurkkatie", 2, "00760", "Helsinki", "Heikinlaakso", 60.27141, 25.05878, houses=True),
    _place("Jakomäenpolku", 6, "00770", "Helsinki", "Jakomäki", 60.26060, 25.08020),
    _place("Mahlakuja", 8, "00790", "Helsinki", "Viikki", 60.22512, 25.02840, 150),
    # Helsinki, east
    _place("Karhutie", 11, "00800", "Helsinki", "Herttoniemi", 60.19818, 25.03242),
    _place("Hillerikuja", 6, "00800", "Helsinki", "Siilitie", 60.20964, 25.04435),
    _place("Prinssintie", 1, "00820", "Helsinki", "Roihuvuori", 60.20303, 25.06154),
    _place("Ilomäentie", 8, "00840", "Helsinki", "Laajasalo", 60.18091, 25.05842, 150),
    _place("Rudolfintie", 8, "00870", "Helsinki", "Yliskylä", 60.17146, 25.03952, 200),
    _place("Yläkivenrinne", 6, "00920", "Helsinki", "Myllypuro", 60.22056, 25.06681),
    _place("Itäkatu", 7, "00930", "Helsinki", "Itäkeskus", 60.21066, 25.08103),
    _place("Kauppakartanonkatu", 5, "00930", "Helsinki", "Itäkeskus", 60.20860, 25.08411),
    _place("Rusthollarintie", 15, "00910", "Helsinki", "Puotila", 60.21347, 25.09982),
    _place("Naapurintie", 14, "00940", "Helsinki", "Kontula", 60.23485, 25.08572),
    _place("Kivikonkaari", 31, "00940", "Helsinki", "Kivikko", 60.23594, 25.06323),
    _place("Pyhätunturintie", 2, "00970", "Helsinki", "Mellunmäki", 60.23658, 25.12310),
    _place("Vedenottamontie", 6, "00980", "Helsinki", "Vuosaari", 60.20453, 25.14065),
    _place("Lohikäärmeenpolku", 3, "00980", "Helsinki", "Vuosaari", 60.21164, 25.13949),
    _place("Meri-Rastilan tori", 7, "00980", "Helsinki", "Meri-Rastila", 60.20260, 25.12247, 150),
    _place("Karhunevantie", 2, "00890", "Helsinki", "Östersundom", 60.26978, 25.19093, houses=True),
    # Espoo
    _place("Leppävaarankatu", 3, "02600", "Espoo", "Leppävaara", 60.21834, 24.81083),
    _place("Alberganesplanadi", 12, "02600", "Espoo", "Leppävaara", 60.21474, 24.81229),
    _place("Lintuvaarantie", 11, "02650", "Espoo", "Lintuvaara", 60.22380, 24.81185),
    _place("Kotkatie", 10, "02620", "Espoo", "Karakallio", 60.22988, 24.76435),
    _place("Kievarinpolku", 8, "02710", "Espoo", "Viherlaakso", 60.22786, 24.74480),
    _place("Lehtitie", 5, "02730", "Espoo", "Laaksolahti", 60.25036, 24.75689, houses=True),
    _place("Kulloonmäentie", 20, "02940", "Espoo", "Järvenperä", 60.24492, 24.71147, houses=True),
    _place("Juvanpuistonkuja", 1, "02920", "Espoo", "Juvanmalmi", 60.27639, 24.75294, houses=True),
    _place("Pohjoisentie", 1, "02970", "Espoo", "Kalajärvi", 60.30256, 24.73847, houses=True),
    _place("Kylätorintie", 7, "02770", "Espoo", "Espoon keskus", 60.20978, 24.66824, 150),
    _place("Kirstintie", 24, "02760", "Espoo", "Suvela", 60.20425, 24.67264),
    _place("Kurtinniityntie", 16, "02780", "Espoo", "Kauklahti", 60.17226, 24.59542, houses=True),
    _place("Louhenkuja", 4, "02130", "Espoo", "Tapiola", 60.18526, 24.79898),
    _place("Kauppamiehentie", 3, "02100", "Espoo", "Tapiola", 60.17656, 24.80291, 200),
    _place("Kurkijoentie", 24, "02140", "Espoo", "Laajalahti", 60.20395, 24.80592, 150),
    _place("Vanhan-Mankkaan kuja", 2, "02180", "Espoo", "Mankkaa", 60.19264, 24.76880, houses=True),
    _place("Meteorinkatu", 7, "02210", "Espoo", "Olari", 60.16832, 24.73152),
    _place("Matinraitti", 12, "02230", "Espoo", "Matinkylä", 60.15754, 24.74650, 200),
    _place("Henttaan puistokatu", 10, "02250", "Espoo", "Henttaa", 60.18782, 24.74016),
    _place("Haukilahdenkatu", 4, "02200", "Espoo", "Haukilahti", 60.16164, 24.77779, 150),
    _place("Finnoonniitty", 6, "02270", "Espoo", "Finnoo", 60.16753, 24.70280, 150),
    _place("Espoonlahdenkatu", 9, "02320", "Espoo", "Espoonlahti", 60.15023, 24.65571, 100),
    _place("Soukankaari", 10, "02360", "Espoo", "Soukka", 60.13970, 24.66887, 100),
    _place("Lehtikaskentie", 7, "02340", "Espoo", "Latokaski", 60.17818, 24.66221, houses=True),
    _place("Uunimestarintie", 2, "02330", "Espoo", "Saunalahti", 60.16051, 24.64521),
    # Kauniainen
    _place("Kauniaistentie", 10, "02700", "Kauniainen", "Kauniainen", 60.20903, 24.72967, 200),
    # Vantaa
    _place("Tikkurilantie", 40, "01300", "Vantaa", "Tikkurila", 60.28957, 25.03967, 200),
    _place("Ratakuja", 7, "01300", "Vantaa", "Tikkurila", 60.29432, 25.04173),
    _place("Raatetie", 24, "01350", "Vantaa", "Hiekkaharju", 60.30533, 25.02856),
    _place("Oljenkorsi", 6, "01370", "Vantaa", "Jokiniemi", 60.29867, 25.06241, houses=True),
    _place("Vanha Rekolantie", 12, "01360", "Vantaa", "Koivukylä", 60.32201, 25.06911),
    _place("Ajomiehenkuja", 23, "01400", "Vantaa", "Rekola", 60.34132, 25.08971, 150, True),
    _place("Maauunintie", 17, "01450", "Vantaa", "Korso", 60.34467, 25.05790, 150),
    _place("Nissaksentie", 9, "01200", "Vantaa", "Hakunila", 60.28359, 25.12395),
    _place("Keihäspolku", 4, "01280", "Vantaa", "Länsimäki", 60.24367, 25.10822),
    _place("Harjunreuna", 16, "01230", "Vantaa", "Vaarala", 60.26579, 25.09160, houses=True),
    _place("Kilterinrinne", 9, "01600", "Vantaa", "Myyrmäki", 60.25596, 24.85468),
    _place("Vihertie", 56, "01620", "Vantaa", "Martinlaakso", 60.27317, 24.84839),
    _place("Kahluuniityntie", 7, "01610", "Vantaa", "Kaivoksela", 60.26699, 24.88665),
    _place("Linnaistentie", 4, "01640", "Vantaa", "Hämevaara", 60.24826, 24.78204, houses=True),
    _place("Kannistontie", 34, "01700", "Vantaa", "Kivistö", 60.32942, 24.85193),
    _place("Punakiventie", 5, "01700", "Vantaa", "Kivistö", 60.31949, 24.84732),
    _place("Atlastie", 12, "01390", "Vantaa", "Ruskeasanta", 60.32714, 25.01026, houses=True),
    _place("Tuovintie", 14, "01420", "Vantaa", "Päiväkumpu", 60.32363, 25.09643, houses=True),
    _place("Oolannintie", 21, "01520", "Vantaa", "Veromies", 60.28253, 24.95443),
)

FIRST_NAMES = (
    "Aino", "Anna", "Eeva", "Elina", "Emma", "Hanna", "Heidi", "Helmi", "Ida", "Iida",
    "Jenni", "Johanna", "Katja", "Kaisa", "Laura", "Leena", "Liisa", "Maria", "Marjo", "Minna",
    "Noora", "Outi", "Päivi", "Riikka", "Sanna", "Satu", "Sari", "Tiina", "Tuula", "Veera",
    "Aleksi", "Antti", "Eero", "Harri", "Heikki", "Ilkka", "Jari", "Joonas", "Juha", "Jukka",
    "Kalle", "Lauri", "Markku", "Matti", "Mikko", "Niko", "Olli", "Pekka", "Petri", "Sami",
    "Teemu", "Timo", "Tuomas", "Ville",
)  # fmt: skip
SURNAMES = (
    "Aalto", "Ahonen", "Eskola", "Hakala", "Heikkinen", "Heinonen", "Hiltunen", "Hämäläinen",
    "Jokinen", "Kallio", "Karjalainen", "Kinnunen", "Koivisto", "Korhonen", "Koskinen",
    "Laaksonen", "Laine", "Lehtinen", "Lehtonen", "Leinonen", "Lindqvist", "Mattila", "Miettinen",
    "Mäkelä", "Mäkinen", "Nieminen", "Nurmi", "Ojala", "Pitkänen", "Rantanen", "Salminen",
    "Salo", "Saarinen", "Tuominen", "Turunen", "Virtanen", "Väisänen", "Wikström",
)  # fmt: skip
PARTNER_COMPANIES = (
    "Asennuspalvelu {s} Oy", "{s} Kaluste Oy", "Keittiöasennus {s}", "{s} & Poika Oy",
    "Rakennuspuusepät {s}", "Kalusteasennus {s} Tmi",
)  # fmt: skip
MOBILE_PREFIXES = ("40", "44", "45", "50")

MEASURE_NOTES = (
    "Kitchen measurement, customer has the floor plan",
    "Walk-in closet, sloped ceiling",
    "Measure the bedroom niche for a sliding-door wardrobe",
    "Hallway wardrobe, check the floor level",
    "Customer wants a quote for the worktop too",
)
WARDROBE_NOTES = (
    "Bring the sliding-door rails",
    "Mirror doors, handle with care",
    "Ceiling 2.62 m, scribe the top panel on site",
    "Small elevator, carry the side panels by the stairs",
    "Sliding doors arrive in the same delivery",
)
KITCHEN_NOTES = (
    "Old kitchen already removed by the customer",
    "Connect the dishwasher and the sink",
    "Induction hob and oven to connect",
    "Worktop delivered separately, check the cut-outs",
    "Park in the yard, gate code 4711",
)
REPAIR_NOTES = {
    "wardrobe": ("Sliding door jumps off the track", "Hinge broken on the wardrobe door"),
    "kitchen": ("Drawer front misaligned", "Cabinet door does not close"),
    "glass": ("Cracked glass shelf, bring a replacement", "Replace a scratched mirror door"),
    "electrical": ("LED strip in the wardrobe not working", "Extractor hood light flickers"),
    "plumbing": ("Leak under the sink after the install", "Dishwasher drain hose loose"),
}
# Weighted: most after-sales calls are about wardrobes and kitchens.
REPAIR_SKILLS = ("wardrobe", "wardrobe", "kitchen", "kitchen", "glass", "electrical", "plumbing")
ACCESS_NOTES = ("Door code 1234", "Call 15 min before arrival", "Dog at home", "Door code 4580")


def hhmm(minutes: int) -> str:
    """Format minutes after midnight as ``HH:MM``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def minutes(text: str) -> int:
    """Parse ``HH:MM`` into minutes after midnight."""
    hours, mins = text.split(":")
    return int(hours) * 60 + int(mins)


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two ``(lat, lon)`` points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    sin_dlat = math.sin((lat2 - lat1) / 2)
    sin_dlon = math.sin((lon2 - lon1) / 2)
    h = sin_dlat**2 + math.cos(lat1) * math.cos(lat2) * sin_dlon**2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def jitter(rng: random.Random, place: Place) -> dict[str, float]:
    """Return a point uniformly distributed in the disc of ``place.radius_m`` around it."""
    distance_m = place.radius_m * math.sqrt(rng.random())
    bearing = rng.uniform(0.0, 2.0 * math.pi)
    dlat = distance_m * math.cos(bearing) / 111_320.0
    dlon = distance_m * math.sin(bearing) / (111_320.0 * math.cos(math.radians(place.lat)))
    return {"lat": round(place.lat + dlat, 6), "lon": round(place.lon + dlon, 6)}


def _flat(rng: random.Random) -> str:
    return f" {rng.choice('AABBCD')} {rng.randint(1, 48)}"


def street_address(rng: random.Random, place: Place) -> str:
    """Make up an address on the place's street, numbered near the real house number."""
    number = max(1, place.number + rng.randint(-6, 10))
    # Detached and semi-detached houses have no staircase or flat number; blocks of flats do.
    suffix = rng.choice(("", "", "", " a", " b")) if place.houses else _flat(rng)
    return f"{place.street} {number}{suffix}, {place.postcode} {place.city}"


def phone(rng: random.Random) -> str:
    """Make up a fictional Finnish mobile number."""
    return f"+358 {rng.choice(MOBILE_PREFIXES)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"


# Once this many names are taken, new ones get two given names: the first-name and
# surname pairs (2,052) would run out on days of a thousand customers or more.
PLAIN_NAMES_MAX = len(FIRST_NAMES) * len(SURNAMES) * 9 // 10


def person(rng: random.Random, taken: set[str]) -> str:
    """Pick a Finnish first name and surname not yet in ``taken``, and add it there.

    On large days (more than ``PLAIN_NAMES_MAX`` names taken) the name gets a
    second given name, so the draw always ends quickly; smaller days draw
    exactly as before (the committed samples stay byte-identical).
    """
    while True:
        if len(taken) < PLAIN_NAMES_MAX:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        else:
            first, second = rng.sample(FIRST_NAMES, 2)
            name = f"{first} {second} {rng.choice(SURNAMES)}"
        if name not in taken:
            taken.add(name)
            return name


def qualifies(tech: Record, skills: Skills) -> bool:
    """Tell whether the technician holds every skill at least at the required level."""
    return all(tech["skills"].get(code, 0) >= level for code, level in skills.items())


# --------------------------------------------------------------------------- technicians

ROLE_SHARES = (
    ("measurer", "employee", 0.13),
    ("repair", "employee", 0.07),
    ("wardrobe_installer", "employee", 0.24),
    ("kitchen_installer", "employee", 0.24),
    ("installer", "partner", 0.28),
    ("repair", "partner", 0.04),
)
SHIFTS = ((7 * 60, 16 * 60), (7 * 60 + 30, 16 * 60 + 30), (8 * 60, 17 * 60))


def role_counts(total: int) -> list[int]:
    """Split ``total`` technicians over `ROLE_SHARES` by the largest-remainder method."""
    exact = [share * total for _, _, share in ROLE_SHARES]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def role_skills(rng: random.Random, role: str, kind: str) -> tuple[Skills, int]:
    """Skills and ``max_jobs`` for a technician of the given role."""
    skills: Skills = {}
    if role == "measurer":
        skills["measure"] = rng.choice((2, 2, 3))
        if rng.random() < 0.5:
            skills["wardrobe"] = 1
        return skills, rng.choice((7, 8, 8))
    if role == "repair" and kind == "employee":
        skills = {"wardrobe": 2, "kitchen": 2, "glass": rng.choice((1, 2))}
        skills["electrical"] = rng.choice((1, 2))
        skills["plumbing"] = rng.choice((1, 2))
        if rng.random() < 0.5:
            skills = {"measure": 1, **skills}
        return skills, 7
    if role == "repair":
        return {"wardrobe": 2, "kitchen": 1, "electrical": 1, "glass": 2}, 6
    if role == "wardrobe_installer" or (role == "installer" and rng.random() < 0.5):
        if kind == "employee" and rng.random() < 0.2:
            skills["measure"] = 1
        skills["wardrobe"] = rng.choice((2, 3, 3))
        if rng.random() < 0.6:
            skills["kitchen"] = rng.choice((1, 2))
        if rng.random() < 0.45:
            skills["glass"] = rng.choice((1, 2))
        if rng.random() < 0.25:
            skills["electrical"] = 1
        return skills, rng.choice((5, 6))
    if rng.random() < 0.7:
        skills["wardrobe"] = rng.choice((1, 2))
    skills["kitchen"] = rng.choice((2, 3, 3))
    for code, chance in (("worktop_stone", 0.5), ("electrical", 0.5), ("plumbing", 0.55)):
        if rng.random() < chance:
            skills[code] = rng.choice((1, 2))
    return skills, 5


def make_technicians(rng: random.Random, total: int) -> list[Record]:
    """Generate the roster: employees first, then partners, spread over the metro area."""
    roles: list[tuple[str, str]] = []
    for (role, kind, _), count in zip(ROLE_SHARES, role_counts(total), strict=True):
        roles.extend([(role, kind)] * count)
    employees = [r for r in roles if r[1] == "employee"]
    partners = [r for r in roles if r[1] == "partner"]
    rng.shuffle(employees)
    rng.shuffle(partners)
    taken: set[str] = set()
    width = max(2, len(str(total)))
    technicians = []
    for index, (role, kind) in enumerate(employees + partners, start=1):
        skills, max_jobs = role_skills(rng, role, kind)
        name = person(rng, taken)
        home = jitter(rng, rng.choice(PLACES))
        start, end = rng.choice(SHIFTS)
        earliest = rng.choice((11 * 60, 11 * 60, 11 * 60 + 30))
        if kind == "employee":
            per_hour = rng.randrange(64, 81) / 2  # 32.0 .. 40.0 in 0.5 steps
            cost = {
                "per_hour": per_hour,
                "per_km": rng.randrange(25, 41) / 100,
                "per_job": 0.0,
                "overtime_per_hour": round(per_hour * 1.5, 2),
            }
            max_overtime = 60
        else:
            company = rng.choice(PARTNER_COMPANIES).format(s=name.split()[1])
            name = f"{name} ({company})"
            cost = {
                "per_hour": float(rng.randrange(45, 56)),
                "per_km": 0.0,
                "per_job": float(rng.randrange(40, 71, 5)),
                "overtime_per_hour": 0.0,
            }
            max_overtime = 0
        technicians.append(
            {
                "id": f"T{index:0{width}d}",
                "name": name,
                "kind": kind,
                "home": home,
                "end": dict(home),
                "skills": {code: skills[code] for code in SKILLS if code in skills},
                "shifts": [
                    {
                        "date": DATE,
                        "start": hhmm(start),
                        "end": hhmm(end),
                        "break": {
                            "earliest": hhmm(earliest),
                            "latest": "13:00",
                            "duration_min": 30,
                        },
                    }
                ],
                "max_jobs": max_jobs,
                "max_overtime_min": max_overtime,
                "cost": cost,
            }
        )
    return technicians


# --------------------------------------------------------------------------------- jobs

LATEST_END = 16 * 60 + 30  # windows are chosen so the visit can end by 16:30


def _level(rng: random.Random, weights: tuple[int, int, int]) -> int:
    """Draw a skill level 1..3 with the given weights."""
    return rng.choices((1, 2, 3), weights=weights)[0]


def _window(start: int, length: int) -> dict[str, str]:
    return {"start": hhmm(start), "end": hhmm(start + length)}


def _base_job(rng: random.Random, kind: str, names: set[str]) -> Record:
    """Start a job of ``kind`` with its location and customer; the caller adds the work."""
    place = rng.choice(PLACES)
    return {
        "id": "",
        "kind": kind,
        "location": jitter(rng, place),
        "address": street_address(rng, place),
        "customer": {"name": person(rng, names), "phone": phone(rng)},
        "duration_min": 0,
        "skills": {},
        "crew_size": 1,
        "windows": [],
        "preferred_window": None,
        "soft_penalty_per_min": None,
        "release_at": None,
        "deadline": None,
        "priority": 3,
        "pinned_technician_id": None,
        "preferred_technician_id": None,
        "notes": None,
    }


def _join_notes(*parts: str | None) -> str | None:
    text = ". ".join(p for p in parts if p)
    return text or None


def make_measure(rng: random.Random, names: set[str]) -> Record:
    """Make a measuring visit: 30-60 min, one 2-hour window, priority 3."""
    job = _base_job(rng, "measure", names)
    job["duration_min"] = rng.choice((30, 45, 45, 60))
    job["skills"] = {"measure": 2 if rng.random() < 0.3 else 1}
    job["windows"] = [_window(rng.choice((8, 9, 10, 11, 12, 13, 14)) * 60, 120)]
    access = rng.choice(ACCESS_NOTES) if rng.random() < 0.3 else None
    job["notes"] = _join_notes(rng.choice(MEASURE_NOTES) if rng.random() < 0.6 else None, access)
    return job


def make_install(rng: random.Random, names: set[str]) -> Record:
    """Make an install: a wardrobe (2-4 h) or a kitchen (4-6 h), maybe with extra skills."""
    job = _base_job(rng, "install", names)
    if rng.random() < 0.55:
        job["duration_min"] = rng.choice((120, 150, 180, 180, 210, 240))
        job["skills"] = {"wardrobe": _level(rng, (3, 5, 2))}
        if rng.random() < 0.15:
            job["skills"]["glass"] = rng.choice((1, 2))
        if rng.random() < 0.1:
            job["skills"]["electrical"] = 1
        note = rng.choice(WARDROBE_NOTES)
    else:
        job["duration_min"] = rng.choice((240, 270, 300, 300, 330, 360))
        job["skills"] = {"kitchen": _level(rng, (2, 5, 3))}
        for code, chance in (("worktop_stone", 0.3), ("plumbing", 0.35), ("electrical", 0.35)):
            if rng.random() < chance:
                job["skills"][code] = rng.choice((1, 1, 2))
        note = rng.choice(KITCHEN_NOTES)
    if rng.random() < 0.75:  # the "3+1" standard: a confirmed 1-hour arrival window
        latest_start = (LATEST_END - job["duration_min"]) // 60 * 60
        job["windows"] = [_window(rng.randrange(8 * 60, latest_start + 1, 60), 60)]
    if rng.random() < 0.08:
        job["priority"] = 2
        note = f"Rescheduled from 2026-11-24. {note}"
    access = rng.choice(ACCESS_NOTES) if rng.random() < 0.25 else None
    job["notes"] = _join_notes(note if rng.random() < 0.7 else None, access)
    return job


def make_repair(rng: random.Random, urgent: bool, names: set[str]) -> Record:
    """Make a repair visit (30-120 min): urgent ones get a deadline, others a window."""
    job = _base_job(rng, "repair", names)
    code = rng.choice(REPAIR_SKILLS)
    job["duration_min"] = rng.choice((30, 45, 60, 60, 75, 90, 120))
    job["skills"] = {code: 2 if rng.random() < 0.4 else 1}
    note = rng.choice(REPAIR_NOTES[code])
    if urgent:
        job["priority"] = 1 if rng.random() < 0.35 else 2
        job["deadline"] = hhmm(8 * 60 + rng.choice((180, 210, 240, 270, 300)))
        note = f"Urgent: {note[0].lower()}{note[1:]}"
    elif rng.random() < 0.5:
        job["windows"] = [_window(rng.choice((8, 9, 10, 11, 12, 13, 14)) * 60, 120)]
    else:
        job["preferred_window"] = _window(rng.choice((8, 9, 10, 12, 13)) * 60, 180)
        job["soft_penalty_per_min"] = 0.5
    job["notes"] = note
    return job


def _fits_window(job: Record, tech: Record) -> bool:
    """Tell whether some window (or the shift) lets ``tech`` start and finish the job."""
    shift = tech["shifts"][0]
    start, end = minutes(shift["start"]), minutes(shift["end"])
    windows = job["windows"] or [{"start": shift["start"], "end": shift["end"]}]
    for window in windows:
        earliest = max(start, minutes(window["start"]))
        if earliest <= minutes(window["end"]) and earliest + job["duration_min"] <= end:
            return True
    return False


def qualified_count(technicians: list[Record], skills: Skills, cache: dict[Any, int] | None = None) -> int:
    """How many technicians hold ``skills``; ``cache`` (per roster) keeps the count per skill set.

    Jobs share few skill sets, so on large days the cache turns jobs × technicians
    checks into a handful (500 × 5,000: 12 s → under 1 s).
    """
    key = tuple(sorted(skills.items()))
    if cache is not None and key in cache:
        return cache[key]
    count = sum(qualifies(t, skills) for t in technicians)
    if cache is not None:
        cache[key] = count
    return count


def make_servable(job: Record, technicians: list[Record], cache: dict[Any, int] | None = None) -> None:
    """Lower the job's skill levels (extras first) until enough technicians qualify.

    Enough is one more than the crew size, so no job hinges on a single person.
    """
    while qualified_count(technicians, job["skills"], cache) < job["crew_size"] + 1:
        codes = list(job["skills"])
        raised = [c for c in codes if job["skills"][c] > 1]
        extras = [c for c in raised if c != codes[0]] or raised
        if extras:
            job["skills"][extras[-1]] -= 1
        else:  # a level-1 extra nobody holds together with the main skill: drop it
            del job["skills"][codes[-1]]


def make_jobs(rng: random.Random, total: int, technicians: list[Record]) -> list[Record]:
    """Generate ``total`` jobs (35% measure, 45% install, 20% repair) with the special cases."""
    n_measure = round(total * 0.35)
    n_repair = round(total * 0.20)
    n_install = total - n_measure - n_repair
    n_urgent = round(n_repair * 0.4)
    kinds = ["measure"] * n_measure + ["install"] * n_install + ["repair"] * n_repair
    rng.shuffle(kinds)
    urgent_flags = [True] * n_urgent + [False] * (n_repair - n_urgent)
    rng.shuffle(urgent_flags)
    names = {t["name"].split(" (")[0] for t in technicians}
    jobs: list[Record] = []
    for kind in kinds:
        if kind == "measure":
            jobs.append(make_measure(rng, names))
        elif kind == "install":
            jobs.append(make_install(rng, names))
        else:
            jobs.append(make_repair(rng, urgent_flags.pop(), names))
    width = max(4, len(str(total)))
    for index, job in enumerate(jobs, start=1):
        job["id"] = f"J{index:0{width}d}"

    installs = [j for j in jobs if j["kind"] == "install"]
    special: set[str] = set()

    # Two jobs that need a skill level nobody holds, and one released after every shift.
    no_skill_install, late_release = rng.sample(installs, 2)
    no_skill_install.update(duration_min=270, skills={"kitchen": 2, "worktop_stone": 3})
    no_skill_install["notes"] = "Natural stone worktop: needs worktop_stone level 3 (certified)"
    late_release.update(duration_min=150, skills={"wardrobe": 2}, windows=[], release_at="18:00")
    late_release["notes"] = "Goods reach the warehouse only at 18:00 (late delivery)"
    calm_repairs = [j for j in jobs if j["kind"] == "repair" and j["deadline"] is None]
    no_skill_repair = rng.choice(calm_repairs)
    no_skill_repair.update(duration_min=90, skills={"glass": 3})
    no_skill_repair["notes"] = "Replace a curved glass door: needs glass level 3"
    special.update(j["id"] for j in (no_skill_install, late_release, no_skill_repair))

    # Crews of two on about 10% of installs: the long kitchens and the large wardrobes.
    # Both members must hold the skills, so a crew job keeps at most one level-1 extra.
    def is_big(job: Record) -> bool:
        main_skill = next(iter(job["skills"]))
        return bool(job["duration_min"] >= (300 if main_skill == "kitchen" else 240))

    big = [j for j in installs if j["id"] not in special and is_big(j)]
    for job in rng.sample(big, min(len(big), round(len(installs) * 0.10))):
        main, *extras = job["skills"]
        job["skills"] = {main: job["skills"][main], **{code: 1 for code in extras[:1]}}
        job["crew_size"] = 2
        job["notes"] = _join_notes("Large job, two installers", job["notes"])
        special.add(job["id"])

    # Goods ready (release) between 09:00 and 12:00 on about 20% of installs.
    candidates = [j for j in installs if j["id"] not in special]
    released = 0
    for job in rng.sample(candidates, len(candidates)):
        if released >= round(len(installs) * 0.20):
            break
        latest_release = min(12 * 60, LATEST_END - job["duration_min"])
        if latest_release < 9 * 60:
            continue
        release = rng.randrange(9 * 60, latest_release + 1, 30)
        job["release_at"] = hhmm(release)
        if job["windows"]:
            first = -(-release // 60) * 60
            latest_start = (LATEST_END - job["duration_min"]) // 60 * 60
            if first <= latest_start:
                job["windows"] = [_window(rng.randrange(first, latest_start + 1, 60), 60)]
            else:
                job["windows"] = []
        released += 1

    counts: dict[Any, int] = {}
    for job in jobs:
        if job["id"] not in {no_skill_install["id"], no_skill_repair["id"]}:
            make_servable(job, technicians, counts)

    # Pinned (3) and preferred (5) technicians: always one who holds the skills.
    pool = [j for j in jobs if j["id"] not in special and j["release_at"] is None]
    pool = [j for j in pool if j["deadline"] is None and j["crew_size"] == 1]
    employees = [t for t in technicians if t["kind"] == "employee"]
    used: set[str] = set()
    # A small day may hold no job of a kind for these, or nobody to pin it to: then none.
    for kind in ("measure", "install", "repair"):
        choices = [j for j in pool if j["kind"] == kind and j["id"] not in used]
        if not choices:
            continue
        job = rng.choice(choices)
        techs = [t for t in employees if qualifies(t, job["skills"]) and _fits_window(job, t)]
        techs = [t for t in techs if t["id"] not in used]
        if not techs:
            continue
        tech = rng.choice(techs)
        job["pinned_technician_id"] = tech["id"]
        job["notes"] = _join_notes(job["notes"], "Promised to the customer by the dispatcher")
        used.update((job["id"], tech["id"]))
    for kind in ("repair", "repair", "repair", "install", "install"):
        choices = [j for j in pool if j["kind"] == kind and j["id"] not in used]
        if not choices:
            continue
        job = rng.choice(choices)
        qualified = [t for t in technicians if qualifies(t, job["skills"])]
        if not qualified:
            continue
        tech = rng.choice(qualified)
        job["preferred_technician_id"] = tech["id"]
        reason = "Customer asks for the same installer as last time"
        job["notes"] = _join_notes(job["notes"], reason)
        used.add(job["id"])
    return jobs


# ---------------------------------------------------------------------------- small day


def _small_place(street: str) -> Place:
    return next(p for p in PLACES if p.street == street)


def make_small_day() -> Record:
    """Build the hand-made day: 3 technicians, 12 jobs in central Helsinki, one per case."""
    rng = random.Random(SEED + 1)

    def tech(
        tid: str,
        name: str,
        kind: str,
        street: str,
        skills: Skills,
        shift: tuple[str, str],
        max_jobs: int,
        cost: tuple[float, float, float],
    ) -> Record:
        home = jitter(rng, _small_place(street))
        per_hour, per_km, per_job = cost
        overtime = round(per_hour * 1.5, 2) if kind == "employee" else 0.0
        return {
            "id": tid,
            "name": name,
            "kind": kind,
            "home": home,
            "end": dict(home),
            "skills": skills,
            "shifts": [
                {
                    "date": DATE,
                    "start": shift[0],
                    "end": shift[1],
                    "break": {"earliest": "11:00", "latest": "13:00", "duration_min": 30},
                }
            ],
            "max_jobs": max_jobs,
            "max_overtime_min": 60 if kind == "employee" else 0,
            "cost": {
                "per_hour": per_hour,
                "per_km": per_km,
                "per_job": per_job,
                "overtime_per_hour": overtime,
            },
        }

    technicians = [
        tech(
            "T1", "Aino Virtanen", "employee", "Kaarlenkatu",
            {"measure": 1, "wardrobe": 3, "kitchen": 2, "electrical": 1, "plumbing": 1},
            ("07:30", "16:30"), 6, (38.0, 0.35, 0.0),
        ),
        tech(
            "T2", "Mikko Laine", "employee", "Välskärinkatu",
            {"measure": 2, "wardrobe": 2, "glass": 2, "plumbing": 1},
            ("08:00", "17:00"), 8, (34.0, 0.3, 0.0),
        ),
        tech(
            "T3", "Juha Mäkinen (Asennuspalvelu Mäkinen Oy)", "partner", "Kasöörinkatu",
            {"wardrobe": 2, "kitchen": 3, "worktop_stone": 2, "plumbing": 2},
            ("08:00", "17:00"), 5, (50.0, 0.0, 55.0),
        ),
    ]  # fmt: skip

    names = {t["name"].split(" (")[0] for t in technicians}

    def job(jid: str, kind: str, at: str, duration: int, skills: Skills, **extra: Any) -> Record:
        place = _small_place(at)
        record = _base_job(rng, kind, names)
        record.update(
            id=jid,
            location=jitter(rng, place),
            address=street_address(rng, place),
            duration_min=duration,
            skills=skills,
        )
        record.update(extra)
        return record

    jobs = [
        job("S01", "measure", "Apollonkatu", 45, {"measure": 1},
            windows=[{"start": "09:00", "end": "11:00"}], notes="Walk-in closet, sloped ceiling"),
        job("S02", "measure", "Sepänkatu", 60, {"measure": 2},
            notes="Kitchen measurement, customer has the floor plan"),
        job("S03", "install", "Toinen linja", 150, {"wardrobe": 2},
            windows=[{"start": "13:00", "end": "14:00"}], notes="Bring the sliding-door rails"),
        job("S04", "install", "Kangasalantie", 240, {"kitchen": 2, "plumbing": 1}, crew_size=2,
            notes="Large kitchen, two installers. Connect the dishwasher and the sink"),
        job("S05", "repair", "Lutherinkatu", 60, {"wardrobe": 1}, priority=1, deadline="11:00",
            notes="Urgent: wardrobe door fell off, customer has small children"),
        job("S06", "install", "Johanneksentie", 120, {"wardrobe": 1}, release_at="10:30",
            notes="Goods ready at the warehouse at 10:30"),
        job("S07", "repair", "Ruoholahdenkatu", 45, {"glass": 1},
            preferred_window={"start": "12:00", "end": "15:00"}, soft_penalty_per_min=0.5,
            notes="Cracked glass shelf, bring a replacement"),
        job("S08", "repair", "Porvoonkatu", 60, {"kitchen": 1}, notes="Drawer front misaligned"),
        job("S09", "measure", "Tavaststjernankatu", 30, {"measure": 1}, notes="Door code 1234"),
        job("S10", "install", "Perhonkatu", 120, {"wardrobe": 2, "glass": 1},
            notes="Mirror doors, handle with care"),
        job("S11", "repair", "Kapteeninkatu", 45, {"electrical": 1},
            notes="LED strip in the wardrobe not working"),
        job("S12", "install", "Pasilan puistotie", 240, {"kitchen": 2, "worktop_stone": 3},
            notes="Natural stone worktop: needs worktop_stone level 3 (certified)"),
    ]  # fmt: skip
    return _day(technicians, jobs)


# ------------------------------------------------------------------------ output, checks


def _day(technicians: list[Record], jobs: list[Record]) -> Record:
    return {
        "date": DATE,
        "timezone": TIMEZONE,
        "region": REGION,
        "technicians": technicians,
        "jobs": jobs,
    }


def make_helsinki_day(seed: int, n_technicians: int, n_jobs: int) -> Record:
    """Build the whole-metro-area day, fully determined by its arguments."""
    rng = random.Random(seed)
    technicians = make_technicians(rng, n_technicians)
    jobs = make_jobs(rng, n_jobs, technicians)
    return _day(technicians, jobs)


def validate(day: Record, unservable: int) -> None:
    """Raise ``ValueError`` if ids, references, coordinates, windows or skills are wrong.

    ``unservable`` is how many jobs are meant to need a skill level nobody holds.
    """
    technicians, jobs = day["technicians"], day["jobs"]
    tech_ids = [t["id"] for t in technicians]
    job_ids = [j["id"] for j in jobs]
    if len(set(tech_ids)) != len(tech_ids) or len(set(job_ids)) != len(job_ids):
        raise ValueError("duplicate ids")
    points = [t["home"] for t in technicians] + [j["location"] for j in jobs]
    for p in points:
        if not (60.13 <= p["lat"] <= 60.36 and 24.50 <= p["lon"] <= 25.25):
            raise ValueError(f"point outside the metro area: {p}")
    for tech in technicians:
        if any(tech["skills"].get(code, 0) > level for code, level in MAX_LEVEL.items()):
            raise ValueError(f"{tech['id']}: skill above {MAX_LEVEL}")
    by_id = {t["id"]: t for t in technicians}
    without_skill = 0
    counts: dict[Any, int] = {}
    for job in jobs:
        windows = list(job["windows"])
        if job["preferred_window"]:
            windows.append(job["preferred_window"])
        for w in windows:
            if minutes(w["end"]) <= minutes(w["start"]):
                raise ValueError(f"{job['id']}: window ends before it starts")
        if set(job["skills"]) - set(SKILLS):
            raise ValueError(f"{job['id']}: unknown skill")
        qualified = qualified_count(technicians, job["skills"], counts)
        if not qualified:
            without_skill += 1
        elif qualified < job["crew_size"]:
            raise ValueError(f"{job['id']}: fewer qualified technicians than the crew size")
        for key in ("pinned_technician_id", "preferred_technician_id"):
            tid = job[key]
            if tid is not None and (tid not in by_id or not qualifies(by_id[tid], job["skills"])):
                raise ValueError(f"{job['id']}: {key} {tid} missing or not qualified")
    if without_skill != unservable:
        raise ValueError(f"{without_skill} jobs without a qualified technician, not {unservable}")


def write_json(day: Record, path: Path) -> None:
    """Write the day as indented UTF-8 JSON with a final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(day, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def _skills_text(skills: Skills) -> str:
    return ";".join(f"{code}:{level}" for code, level in skills.items())


def write_csv(day: Record, folder: Path) -> None:
    """Write ``jobs.csv`` and ``technicians.csv`` in the documented CSV format."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "jobs.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(JOB_HEADER)
        for job in day["jobs"]:
            preferred = job["preferred_window"] or {}
            writer.writerow(
                _fmt(v)
                for v in (
                    job["id"],
                    job["kind"],
                    job["location"]["lat"],
                    job["location"]["lon"],
                    job["address"],
                    job["customer"]["name"],
                    job["customer"]["phone"],
                    job["duration_min"],
                    _skills_text(job["skills"]),
                    job["crew_size"],
                    ";".join(f"{w['start']}-{w['end']}" for w in job["windows"]),
                    preferred.get("start"),
                    preferred.get("end"),
                    job["soft_penalty_per_min"],
                    job["release_at"],
                    job["deadline"],
                    job["priority"],
                    job["pinned_technician_id"],
                    job["preferred_technician_id"],
                    job["notes"],
                )
            )
    with (folder / "technicians.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TECHNICIAN_HEADER)
        for tech in day["technicians"]:
            shift = tech["shifts"][0]
            cost = tech["cost"]
            writer.writerow(
                _fmt(v)
                for v in (
                    tech["id"],
                    tech["name"],
                    tech["kind"],
                    tech["home"]["lat"],
                    tech["home"]["lon"],
                    tech["end"]["lat"],
                    tech["end"]["lon"],
                    _skills_text(tech["skills"]),
                    shift["start"],
                    shift["end"],
                    shift["break"]["earliest"],
                    shift["break"]["latest"],
                    shift["break"]["duration_min"],
                    tech["max_jobs"],
                    tech["max_overtime_min"],
                    cost["per_hour"],
                    cost["per_km"],
                    cost["per_job"],
                    cost["overtime_per_hour"],
                )
            )


def summary(day: Record) -> str:
    """Describe the counts and the capacity figure of a day, as printed by ``--summary``."""
    technicians, jobs = day["technicians"], day["jobs"]

    def count(items: list[Record], **match: Any) -> int:
        return sum(1 for item in items if all(item[k] == v for k, v in match.items()))

    def having(key: str, kind: str | None = None) -> int:
        return sum(1 for j in jobs if j[key] and kind in (None, j["kind"]))

    shifts = [t["shifts"][0] for t in technicians]
    shift_min = sum(minutes(s["end"]) - minutes(s["start"]) for s in shifts)
    net_min = shift_min - sum(s["break"]["duration_min"] for s in shifts)
    no_skill = [j["id"] for j in jobs if not any(qualifies(t, j["skills"]) for t in technicians)]
    late = [j["id"] for j in jobs if j["release_at"] and minutes(j["release_at"]) >= 18 * 60]
    work_min = sum(j["duration_min"] * j["crew_size"] for j in jobs)
    excluded = set(no_skill + late)
    servable_min = sum(j["duration_min"] * j["crew_size"] for j in jobs if j["id"] not in excluded)
    stops = [(j["location"]["lat"], j["location"]["lon"]) for j in jobs]
    homes = [(t["home"]["lat"], t["home"]["lon"]) for t in technicians]

    def leg_min(km: float) -> float:
        return PARKING_MIN + km * ROAD_FACTOR / SPEED_KMH * 60

    travel_min = 0.0  # a lower bound: every visit reached from its 3 nearest neighbours
    for i, (stop, job) in enumerate(zip(stops, jobs, strict=True)):
        others = sorted(haversine_km(stop, o) for k, o in enumerate(stops + homes) if k != i)
        travel_min += leg_min(sum(others[:3]) / 3) * job["crew_size"]
    for home in homes:  # the drive back home at the end of the day
        travel_min += leg_min(sorted(haversine_km(home, s) for s in stops)[len(stops) // 10])

    employees, partners = count(technicians, kind="employee"), count(technicians, kind="partner")
    measure, install = count(jobs, kind="measure"), count(jobs, kind="install")
    repair = count(jobs, kind="repair")
    urgent_p1 = sum(1 for j in jobs if j["deadline"] and j["priority"] == 1)
    windows = [having("windows", kind) for kind in ("measure", "install", "repair")]
    return "\n".join(
        (
            f"technicians: {len(technicians)} ({employees} employees, {partners} partners)",
            f"jobs: {len(jobs)} ({measure} measure, {install} install, {repair} repair)",
            f"crew of 2: {count(jobs, crew_size=2)}",
            f"urgent repairs (deadline): {having('deadline')} (priority 1: {urgent_p1})",
            f"priority 2 installs: {count(jobs, kind='install', priority=2)}",
            f"hard windows: {having('windows')} (measure, install, repair: {windows})",
            f"preferred windows: {having('preferred_window')}",
            f"releases: {having('release_at')}",
            f"pinned: {having('pinned_technician_id')}",
            f"preferred technician: {having('preferred_technician_id')}",
            f"max_jobs total: {sum(t['max_jobs'] for t in technicians)}",
            f"shift minutes: {shift_min} (net of breaks {net_min})",
            f"work minutes (crew jobs per person): {work_min} = {work_min / net_min:.0%} of net",
            f"  of which servable: {servable_min} = {servable_min / net_min:.0%} of net",
            f"travel lower bound: {travel_min:.0f} min; work + travel >= "
            f"{(work_min + travel_min) / net_min:.0%} of net",
            f"no qualified technician: {', '.join(no_skill)}",
            f"released after every shift: {', '.join(late) or '-'}",
        )
    )


def main() -> None:
    """Command line entry point: write the sample files (and optionally print a summary)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the metro-area day")
    parser.add_argument("--technicians", type=int, default=DEFAULT_TECHNICIANS)
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS)
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="output folder")
    parser.add_argument("--summary", action="store_true", help="print counts and capacity")
    args = parser.parse_args()

    helsinki = make_helsinki_day(args.seed, args.technicians, args.jobs)
    small = make_small_day()
    validate(helsinki, unservable=2)
    validate(small, unservable=1)
    write_json(helsinki, args.out / "helsinki-day.json")
    write_csv(helsinki, args.out / "helsinki-day")
    write_json(small, args.out / "small-day.json")
    if args.summary:
        print("helsinki-day\n" + summary(helsinki) + "\n\nsmall-day\n" + summary(small))


if __name__ == "__main__":
    main()
