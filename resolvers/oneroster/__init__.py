"""OneRoster 1.2 CSV: importing a set into the caller's school, and exporting the school as one.

- csv_files.py: the zip, its manifest, header checks, lines streamed.
- records.py: typed rows of each file, and the checks of single values.
- index.py: the school's rows by sourcedId, what lines are matched against.
- batch.py: one batch of lines in one transaction; progress.py: counts, problems, progress.
- academics.py (orgs, sessions, courses, classes), people.py (roles, users), guardians.py
  (guardian links, demographics), enrollments.py: what each file becomes (their docstrings
  are the mapping).
- importer.py: a run, start to end; claims.py: who runs it (claims, leases, take-overs);
  imports.py: the API (start, read, follow); exporter.py: the zip of the school, and the
  deletion of expired ones.

Matching is by sourcedId within the caller's school, and a line is applied only if it changes
something, so importing the same set again creates and updates nothing. `tobedeleted` drops
enrollments and removes co-teachers; on the other files it is reported (UNSUPPORTED_STATUS),
not applied: deleting terms, classes or accounts takes grades and history with them, and is
done in CampusGraph itself.
"""
