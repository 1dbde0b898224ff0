"""``deskline floor serve``: the floor service: the broker session, the store and the page.

One process: paho's thread stores what the desks send (:mod:`.subscriber`), uvicorn serves the
floor lead's page (:mod:`.web`) on ``[web] host:port`` (localhost unless configured otherwise).
SIGTERM stops both; the broker keeps what arrives meanwhile for the persistent session.
"""
from __future__ import annotations

import logging

from deskline.floor.link import read_credentials
from deskline.floor.store import FloorStore
from deskline.floor.subscriber import FloorSubscriber

log = logging.getLogger(__name__)


def serve(settings) -> int:
    import uvicorn

    from deskline.floor.web import create_app

    user, password = read_credentials(settings.credentials_file)
    store = FloorStore(settings.store_path)
    sub = FloorSubscriber(store, host=settings.host, port=settings.port, username=user,
                          password=password, client_id=settings.client_id,
                          topics=settings.topics, ca_file=settings.ca_file)
    try:
        app = create_app(settings, store, sub)
        sub.start()
        log.info("floor service: store %s, page on http://%s:%d/", settings.store_path,
                 settings.web_host, settings.web_port)
        server = uvicorn.Server(uvicorn.Config(app, host=settings.web_host,
                                               port=settings.web_port, log_level="warning",
                                               access_log=False, lifespan="off"))
        server.run()
    finally:
        sub.stop()
        store.close()
    return 0
