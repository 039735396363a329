"""Notifier messages through the XML archive, per second.

Usage::

    python bench/datamodel_xml.py [--seconds 1.0]

The messages are those of ``bench/datamodel_codec.py`` (a Pick ADD; an Origin ADD with 30
Arrival ADDs, 31 notifiers). Stages:

* ``archive``: :func:`scmaster3.io.xml.encode` / ``decode`` of the sc3ml document;
* ``payload``: the ``data`` field of content type 1 (``CONTENT_XML``: document plus zlib) through
  :mod:`scmaster3.io.payload`, what a client or the mediator does per message;
* ``formatted``: the indented document, as ``sccnv3 -f`` and ``scxmldump -f`` write it.

Each figure is the best of three runs of about ``--seconds`` each.
"""

from __future__ import annotations

import argparse
from functools import partial

from datamodel_codec import origin_message, pick_message, rate

from scmaster3.datamodel import CURRENT_VERSION
from scmaster3.io import xml
from scmaster3.io.payload import decode_payload, encode_payload
from scmaster3.protocol import ContentType


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one measuring run")
    args = parser.parse_args()
    messages = {"pick": pick_message(), "origin+30": origin_message()}
    print(f"{'message':<10} {'stage':<10} {'bytes':>6} {'encode/s':>10} {'decode/s':>10}")
    for label, message in messages.items():
        document = xml.encode(message, CURRENT_VERSION)
        pretty = xml.encode(message, CURRENT_VERSION, formatted=True)
        data = encode_payload(message, ContentType.CONTENT_XML)
        assert xml.decode(document) == xml.decode(pretty) == decode_payload(data, ContentType.CONTENT_XML)
        stages = (
            (
                "archive",
                document,
                partial(xml.encode, message, CURRENT_VERSION),
                partial(xml.decode, document),
            ),
            (
                "payload",
                data,
                partial(encode_payload, message, ContentType.CONTENT_XML),
                partial(decode_payload, data, ContentType.CONTENT_XML),
            ),
            (
                "formatted",
                pretty,
                partial(xml.encode, message, CURRENT_VERSION, formatted=True),
                partial(xml.decode, pretty),
            ),
        )
        for stage, encoded, encode, decode in stages:
            print(
                f"{label:<10} {stage:<10} {len(encoded):>6} "
                f"{rate(encode, args.seconds):>10,.0f} {rate(decode, args.seconds):>10,.0f}"
            )


if __name__ == "__main__":
    main()
