"""Announcements: who they reach (audience), drafts, publishing and scheduled sends, the
recipients' feed, what authors see of them (detail), and the school's communication history."""
