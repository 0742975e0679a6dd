"""Deterministic demo data: two schools with every kind of record that the clients show.

`python server.py seed --demo [--scale N]` runs `seed_demo`. Every demo account's password is
`campus-demo`:

    Northside High (slug northside, invitation code NORTHSIDE-JOIN)
        admin@ staff@ teacher@ teacher2@ mentor@ student@ (free tier) premium@ guardian@northside.test
    Riverside Academy (slug riverside, invitation code RIVERSIDE-JOIN; grades 9 and 10 only)
        teacher@ staff@ student@riverside.test

The data is a school year as it stands on the seeding day (today's UTC date unless given), so
a demo seeded in any month looks alive: the current term is about twelve weeks in, work due
before today is graded (the newest assignment only partly) and attended, a teacher's last
sessions wait to be completed, later work and sessions are upcoming; last term holds last
year's final grades (GPA, credits, transcripts). The dates of the specs are a template drawn
around TEMPLATE_TODAY (Monday 2026-11-23, in the Fall 2026 term); `Calendar` moves them by whole
weeks to the seeding day, so weekdays of classes, due dates and holidays stay as drawn. Everything
else comes from a fixed random seed: the same seeding day writes the same rows.

Timetable: every student takes one course per department, the one for their grade level, and
department d meets in period (d + grade) % number of departments, so no student or teacher is
in two classes at once. `scale` multiplies the sections of each course, so the students and
classes of each school; every class has CLASS_SIZE students.

Seeding is idempotent: when Northside exists nothing is written (see `seed_demo`). Everything
else is written in one transaction with multi-row inserts; the database assigns the ids, which
come back through RETURNING, the same on SQLite and PostgreSQL. An audit entry per school
("demo.seeded") records the day the data is as of and its scale.

The modules: what is seeded, as specs (calendar, catalog, schools); the plan of a school made
from them in Python (world, names, planning); the steps that write it (writer, academics,
people, grades, attendance, tutoring, assessments, chat, ai); and `seed_demo`, which runs them
(run).
"""

from seed.run import SeedRefused, seed_demo

__all__ = ["SeedRefused", "seed_demo"]
