"""The 2026-07-28 revision on the streamable HTTP endpoint, in front of any backend.

Backends speak the handshake era; this package serves modern clients from them: the request
checks and headers (:mod:`.endpoint`, :mod:`.headers`, :mod:`.envelope`), the translation of
answers (:mod:`.results`, :mod:`.call`), questions to the client as ``input_required`` results
(:mod:`.call`, :mod:`.waiting`, :mod:`.request_state`), ``subscriptions/listen``
(:mod:`.listen`) and what it learns of the server (:mod:`.facts`).
"""
