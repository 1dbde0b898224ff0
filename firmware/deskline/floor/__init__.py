"""The floor: desks report to one MQTT broker, and the floor service stores and shows it all.

- :mod:`.messages`: the topic contract (DESIGN §7): topic names, payloads, their checks.
- :mod:`.outbox` and :mod:`.link`: the desk's side, an engine sink that publishes the desk's
  state, alerts and finished calls; alerts and calls wait in the desk's own record until the
  broker has them.
- :mod:`.broker`: the shipped Mosquitto configuration (passwords, ACL, TLS) and its setup.
- :mod:`.store`, :mod:`.subscriber`, :mod:`.report`, :mod:`.web`: the floor service
  (``deskline floor``): one SQLite database for every desk, the floor lead's page and report.
"""
