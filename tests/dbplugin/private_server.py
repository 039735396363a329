"""A MariaDB server of the test's own, in a temporary directory, that the test can stop and start.

It lets a test take the database away for real (the server process exits) without touching the
machine's shared server. The data directory survives a stop, so a restarted server has the data
committed before it went down.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pymysql

INSTALL = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
SERVER = shutil.which("mariadbd") or (os.path.exists("/usr/sbin/mariadbd") and "/usr/sbin/mariadbd") or None


class PrivateMariaDB:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def install(self) -> None:
        subprocess.run(
            [INSTALL, "--no-defaults", f"--datadir={self.data}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True, timeout=120,
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [SERVER, "--no-defaults", f"--datadir={self.data}", f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--socket={self.directory / 'server.sock'}", f"--pid-file={self.directory / 'server.pid'}",
             "--user=root", "--innodb-buffer-pool-size=16M", "--skip-name-resolve"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root").close()
                return
            except pymysql.err.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the private MariaDB server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)
            self.process = None

    def execute(self, statement: str) -> None:
        connection = pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        try:
            connection.cursor().execute(statement)
        finally:
            connection.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
