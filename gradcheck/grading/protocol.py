"""The wire format between a grading process and its sandboxed child: JSON headers and ``.npy`` arrays.

A frame is

    uint32 length N | uint32 header length H | H bytes of JSON header | arrays as .npy blobs

with ``header["arrays"]`` listing the byte length of every blob.  Arrays are
written and read with pickle disabled, and only plain numeric arrays are
accepted.  Both sides import this module: it needs numpy and the standard
library only (it is bound into the sandbox).
"""
import io
import json
import struct

LENGTH = struct.Struct(">I")
MAX_HEADER = 1 << 20  # bytes of JSON header


class ProtocolError(ValueError):
    """A frame that does not follow the wire format."""


def encode(header, arrays=()):
    """One frame: ``header`` (a JSON-able dict) and ``arrays`` (ndarrays, written without pickle)."""
    import numpy as np  # not at import: the child imports numpy only once it has limited itself

    blobs = []
    for array in arrays:
        stream = io.BytesIO()
        np.lib.format.write_array(stream, np.asarray(array, order="C"), allow_pickle=False)  # keeps a 0-d array 0-d
        blobs.append(stream.getvalue())
    head = json.dumps(dict(header, arrays=[len(blob) for blob in blobs])).encode()
    payload = b"".join([LENGTH.pack(len(head)), head, *blobs])
    return LENGTH.pack(len(payload)) + payload


def decode(payload, max_header=MAX_HEADER):
    """(header dict, [arrays]) from a frame's payload; ProtocolError for anything malformed.

    Arrays must be plain numeric (bool, int, unsigned or float) ndarrays: no
    pickle, no object or structured dtypes.
    """
    import numpy as np

    try:
        if len(payload) < LENGTH.size:
            raise ProtocolError(f"a frame of {len(payload)} bytes has no header")
        (size,) = LENGTH.unpack_from(payload)
        if size > max_header or LENGTH.size + size > len(payload):
            raise ProtocolError(f"a header of {size} bytes does not fit")
        header = json.loads(bytes(payload[LENGTH.size:LENGTH.size + size]))
        if not isinstance(header, dict):
            raise ProtocolError("the header is not a JSON object")
        sizes = header.get("arrays", [])
        if not isinstance(sizes, list) or not all(type(n) is int and n >= 0 for n in sizes):
            raise ProtocolError("the header's array sizes are malformed")
        offset = LENGTH.size + size
        if offset + sum(sizes) != len(payload):
            raise ProtocolError("the array sizes do not add up to the frame")
        arrays = []
        for n in sizes:
            array = np.lib.format.read_array(io.BytesIO(payload[offset:offset + n]), allow_pickle=False)
            offset += n
            if type(array) is not np.ndarray or array.dtype.kind not in "fiub" or array.dtype.fields is not None:
                raise ProtocolError(f"an array of dtype {array.dtype} is not a plain numeric array")
            arrays.append(array)
        return header, arrays
    except ProtocolError:
        raise
    except Exception as exc:  # noqa: BLE001 - json and numpy raise many kinds on malformed bytes
        raise ProtocolError(f"malformed frame ({type(exc).__name__}: {exc})") from None
