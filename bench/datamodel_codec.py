"""Notifier messages encoded and decoded per second by the archive codecs.

Usage::

    python bench/datamodel_codec.py [--seconds 1.0]

Two messages, as SeisComP3 modules send them:

* ``pick``: one notifier adding a Pick (the scautopick case; 406 bytes as binary archive);
* ``origin+30``: 31 notifiers adding an Origin and its 30 Arrivals (the scautoloc case).

For each archive format registered with :mod:`scmaster3.io.payload` (binary always; XML once
:mod:`scmaster3.io.xml` provides it) it measures the archive alone and the whole payload
(archive plus zlib, content types 0 and 1), both directions. Each figure is the best of three
runs of about ``--seconds`` each.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from scmaster3.datamodel import (
    CURRENT_VERSION,
    Arrival,
    CreationInfo,
    Notifier,
    NotifierMessage,
    Origin,
    OriginQuality,
    Phase,
    Pick,
    RealQuantity,
    Time,
    TimeQuantity,
    WaveformStreamID,
)
from scmaster3.io import ArchiveError
from scmaster3.io.payload import archive_format, decode_payload, encode_payload
from scmaster3.protocol import ContentType

# Where each format's payloads go; add a format here to have it measured.
FORMATS = [("binary", ContentType.CONTENT_BINARY), ("xml", ContentType.CONTENT_XML)]


def creation_info(second: int) -> CreationInfo:
    return CreationInfo(
        agencyID="TEST", author="scautopick@localhost", creationTime=Time(1577836800 + second, 0)
    )


def pick_message() -> NotifierMessage:
    pick = Pick(
        publicID="Pick/20200101000010.000000.GOLDEN1",
        time=TimeQuantity(value=Time(1577836810, 123456), uncertainty=0.1),
        waveformID=WaveformStreamID(networkCode="GE", stationCode="STA01", channelCode="BHZ"),
        filterID="BW(4,0.7,2)",
        methodID="AIC",
        phaseHint=Phase(code="P"),
        evaluationMode="automatic",
        creationInfo=creation_info(12),
    )
    return NotifierMessage(attachments=[Notifier(parentID="EventParameters", operation="add", object=pick)])


def origin_message(arrivals: int = 30) -> NotifierMessage:
    origin = Origin(
        publicID="Origin/20200101000005.000000.GOLDEN1",
        time=TimeQuantity(value=Time(1577836805, 500000), uncertainty=0.5),
        latitude=RealQuantity(value=52.38, uncertainty=2.1),
        longitude=RealQuantity(value=13.06, uncertainty=1.9),
        depth=RealQuantity(value=10.0),
        depthType="operator assigned",
        methodID="LOCSAT",
        earthModelID="iasp91",
        quality=OriginQuality(associatedPhaseCount=arrivals, usedPhaseCount=arrivals, standardError=0.8),
        evaluationMode="automatic",
        evaluationStatus="preliminary",
        creationInfo=creation_info(20),
    )
    notifiers = [Notifier(parentID="EventParameters", operation="add", object=origin)]
    for i in range(arrivals):
        arrival = Arrival(
            pickID=f"Pick/20200101000010.{i:06d}.GOLDEN1",
            phase=Phase(code="P"),
            azimuth=3.0 * i,
            distance=0.1 * i,
            timeResidual=0.12,
            weight=1.0,
            creationInfo=creation_info(21),
        )
        notifiers.append(Notifier(parentID=origin.publicID, operation="add", object=arrival))
    return NotifierMessage(attachments=notifiers)


def rate(action: Callable[[], object], seconds: float) -> float:
    """Calls per second: the best of three runs of about ``seconds``."""
    calls = 1
    while True:  # find a batch that takes a tenth of the run
        started = time.perf_counter()
        for _ in range(calls):
            action()
        if time.perf_counter() - started > seconds / 10:
            break
        calls *= 2
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        done = 0
        while time.perf_counter() - started < seconds:
            for _ in range(calls):
                action()
            done += calls
        best = max(best, done / (time.perf_counter() - started))
    return best


class Stage(NamedTuple):
    """One measured row: what it is (message, format, stage), the bytes, and the two actions."""

    labels: tuple[str, str, str]
    encoded: bytes
    encode: Callable[[], object]
    decode: Callable[[], object]


def messages() -> dict[str, NotifierMessage]:
    return {"pick": pick_message(), "origin+30": origin_message()}


def format_stages(label: str, message: NotifierMessage, format_name: str, content_type: int) -> list[Stage]:
    """The archive alone and the payload (archive plus zlib where the content type has it)."""
    codec = archive_format(format_name)
    archive = codec.encode(message, CURRENT_VERSION)
    data = encode_payload(message, content_type)
    decode_payload(data, content_type)  # fails loudly if the format cannot read its own output
    return [
        Stage(
            (label, format_name, "archive"),
            archive,
            partial(codec.encode, message, CURRENT_VERSION),
            partial(codec.decode, archive),
        ),
        Stage(
            (label, format_name, "payload"),
            data,
            partial(encode_payload, message, content_type),
            partial(decode_payload, data, content_type),
        ),
    ]


def report(stages: list[Stage], seconds: float) -> None:
    """Measure each stage and print one line per stage as it is done."""
    print(f"{'message':<10} {'format':<7} {'stage':<10} {'bytes':>6} {'encode/s':>10} {'decode/s':>10}")
    for stage in stages:
        label, format_name, name = stage.labels
        print(
            f"{label:<10} {format_name:<7} {name:<10} {len(stage.encoded):>6} "
            f"{rate(stage.encode, seconds):>10,.0f} {rate(stage.decode, seconds):>10,.0f}",
            flush=True,
        )


def seconds_argument(description: str) -> float:
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one measuring run")
    return parser.parse_args().seconds


def main() -> None:
    seconds = seconds_argument(__doc__)
    stages = []
    for format_name, content_type in FORMATS:
        try:
            archive_format(format_name)
        except ArchiveError:
            print(f"{format_name}: no codec registered, skipped")
            continue
        for label, message in messages().items():
            stages += format_stages(label, message, format_name, content_type)
    report(stages, seconds)


if __name__ == "__main__":
    main()
