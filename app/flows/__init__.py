"""Automated flows: cart reminders, post-purchase, win-back, birthday and loyalty notices.

* ``definitions`` — the built-in flows: defaults, validated changes, one version per change.
* ``triggers`` — what starts and ends runs: new carts, orders, loyalty events, lapsed customers.
* ``runs`` — a run per trigger (once), its steps' jobs, ending it and its unsent messages.
* ``steps`` — one step: re-check (mirror, then the store), then the message or the holdout record.
* ``conditions`` — the mirror re-checks; ``timing`` — the contact budget and quiet hours, looked at first.
* ``content`` — the template context; ``incentives`` — single-use codes; ``holdout`` — who is held out.
* ``reports`` — attribution, and lift against the holdout with its confidence interval.

See ``docs/flows.md``.
"""
