"""Realistic names for the generated students and teachers: the first and last names they are drawn
from, and `NameMaker`, which draws them and gives each person an e-mail address unique at their
school.
"""

from __future__ import annotations

import random
from datetime import datetime

from models.enums import Role, Tier
from seed.world import Member

FIRST_NAMES = (
    "Aaliyah",
    "Aarav",
    "Abigail",
    "Adrian",
    "Aisha",
    "Alejandro",
    "Amara",
    "Amir",
    "Ana",
    "Andre",
    "Anika",
    "Arjun",
    "Ava",
    "Benjamin",
    "Bianca",
    "Caleb",
    "Camila",
    "Carlos",
    "Chloe",
    "Daniel",
    "Diego",
    "Elijah",
    "Elena",
    "Emily",
    "Ethan",
    "Fatima",
    "Gabriel",
    "Grace",
    "Hana",
    "Hassan",
    "Isabella",
    "Isaac",
    "Jada",
    "Jamal",
    "Jasmine",
    "Javier",
    "Jin",
    "Jordan",
    "Kai",
    "Kenji",
    "Layla",
    "Leah",
    "Liam",
    "Lucas",
    "Luis",
    "Malik",
    "Mateo",
    "Mei",
    "Mia",
    "Nadia",
    "Naomi",
    "Nathan",
    "Noah",
    "Olivia",
    "Omar",
    "Priya",
    "Rafael",
    "Riya",
    "Samuel",
    "Sara",
    "Sofia",
    "Tariq",
    "Theo",
    "Valentina",
    "Wei",
    "Yusuf",
    "Zara",
    "Zoe",
)
LAST_NAMES = (
    "Adams",
    "Ahmed",
    "Alvarez",
    "Anderson",
    "Baker",
    "Banerjee",
    "Brooks",
    "Campbell",
    "Castillo",
    "Chen",
    "Clarke",
    "Cohen",
    "Cruz",
    "Dang",
    "Davis",
    "Edwards",
    "Evans",
    "Fernandez",
    "Foster",
    "Garcia",
    "Gonzalez",
    "Green",
    "Gupta",
    "Hall",
    "Harris",
    "Hernandez",
    "Hughes",
    "Ibrahim",
    "Ito",
    "Jackson",
    "Jensen",
    "Khan",
    "Kim",
    "Kowalski",
    "Lee",
    "Lewis",
    "Lopez",
    "Martin",
    "Mensah",
    "Miller",
    "Mitchell",
    "Moreno",
    "Murphy",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Ortiz",
    "Park",
    "Perez",
    "Phillips",
    "Ramirez",
    "Reed",
    "Reyes",
    "Robinson",
    "Rossi",
    "Sanchez",
    "Santos",
    "Schmidt",
    "Shah",
    "Singh",
    "Sullivan",
    "Taylor",
    "Thompson",
    "Torres",
    "Tran",
    "Turner",
    "Walker",
    "Wang",
    "Washington",
    "Wilson",
    "Wright",
    "Yamamoto",
    "Young",
    "Zhang",
)


class NameMaker:
    """Realistic names with unique e-mail addresses at one school."""

    def __init__(self, rng: random.Random, domain: str) -> None:
        self.rng = rng
        self.domain = domain
        self.emails: set[str] = set()

    def person(self, role: Role, joined: datetime, tier: Tier = Tier.FREE) -> Member:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower()
        email, number = f"{local}@{self.domain}", 2
        while email in self.emails:
            email, number = f"{local}{number}@{self.domain}", number + 1
        self.emails.add(email)
        return Member(email=email, name=f"{first} {last}", role=role, joined=joined, tier=tier)
