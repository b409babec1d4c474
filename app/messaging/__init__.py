"""Email that is honest: rendered from templates, sent only with consent, within a contact budget.

* ``outbox`` — ``create_message``: the row a caller (the flow engine) writes, once per dedupe key.
* ``render`` — Jinja templates with the shop's branding, CSS inlined, a plain-text part; ``preview``.
* ``consent`` — who may be mailed, suppressions, signed one-click unsubscribe.
* ``budget`` — the contact budget and quiet hours, as pure functions of ``now``.
* ``channels`` — the ``Channel`` protocol and ``SmtpChannel``.
* ``delivery`` — the re-check just before sending, the claim that sends once, retries, the sweep.
* ``tracking`` — click and open links, and what they record.

See ``docs/messaging.md``.
"""
