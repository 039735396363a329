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

from functools import partial

from datamodel_codec import Stage, format_stages, messages, report, seconds_argument

from scmaster3.datamodel import CURRENT_VERSION
from scmaster3.io import xml
from scmaster3.protocol import ContentType


def main() -> None:
    seconds = seconds_argument(__doc__)
    stages = []
    for label, message in messages().items():
        stages += format_stages(label, message, "xml", ContentType.CONTENT_XML)
        pretty = xml.encode(message, CURRENT_VERSION, formatted=True)
        xml.decode(pretty)  # fails loudly if the indented document does not read
        stages.append(
            Stage(
                (label, "xml", "formatted"),
                pretty,
                partial(xml.encode, message, CURRENT_VERSION, formatted=True),
                partial(xml.decode, pretty),
            )
        )
    report(stages, seconds)


if __name__ == "__main__":
    main()
