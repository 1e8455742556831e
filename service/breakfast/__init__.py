"""Free breakfast for sanitation workers (环卫工人免费早餐), docs/contract.md §6.

- ``points``: the breakfast points, their QR codes and today's count;
- ``roster``: the roster and its import, the worker's eligibility claim, and
  the worker-wide personal-data hooks;
- ``checkin``: the check-in at 5:40 in the morning;
- ``reports``: the monthly figures the union orders rice, flour and oil by;
- ``qr``: the signed scene a point's QR code carries, and its images;
- ``errors``: the feature's error codes.

Invariants kept by the database, not only in code:

- one check-in per roster entry per serving day: unique
  ``(roster_entry_id, serving_date)``; and one per user per serving day,
  unique ``(worker_id, serving_date)``, for a user who moved to a new entry
  when their phone changed;
- never more than the quota per point per day: the counter row
  ``breakfast_daily_counts`` is incremented in the same atomic write as the
  check-in insert, and ``CHECK served <= quota`` refuses the increment past
  the quota, so a refused check-in never uses up quota (``checkin.py``);
- one mini-program user per roster entry: unique ``breakfast_roster.worker_id``;
- one roster entry per phone: unique ``phone_hash`` (partial: erased entries
  hold none).
"""
