"""A local S3 API for the tests: moto's server on 127.0.0.1, reached the way users reach a store.

Processes find the endpoint and credentials through the standard AWS environment variables
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``),
which botocore/s3fs read in every process, Ray workers included (they inherit the environment
of the process that started their node). Nothing is passed in a config file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class S3Server:
    endpoint: str
    server: object
    env: dict
    saved: dict  # the environment variables before start_s3, put back by stop()

    def reset(self) -> None:
        import requests

        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)

    def stop(self) -> None:
        """Stop the server, put the AWS variables back, drop s3fs's cached clients for this endpoint."""
        self.server.stop()
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()


def start_s3() -> S3Server:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    return S3Server(endpoint, server, env, saved)
