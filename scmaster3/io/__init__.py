"""Archives of the data model: binary (SCBA) and XML (sc3ml), and network payloads.

* :mod:`scmaster3.io.binary` - the binary archive: ``encode(obj, version)``, ``decode(data)``;
* :mod:`scmaster3.io.xml` - the XML archive (sc3ml, lxml): ``encode(obj, version, formatted=...)``,
  ``decode(data)``, ``decode_document(data)`` (object and version), and the imported form of
  content type ``CONTENT_IMPORTED_XML`` (``encode_imported``, ``decode_imported``);
* :mod:`scmaster3.io.payload` - messages as the ``data`` field of data messages, by content type;
* :class:`ArchiveError` - the one error every archive codec raises on malformed input.
"""

from scmaster3.io.errors import ArchiveError

__all__ = ["ArchiveError"]
