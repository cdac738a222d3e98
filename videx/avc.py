"""Which H.264 access units FFmpeg calls keyframes, read from the NAL units as its parser does.

FFmpeg runs its H.264 parser over every packet of an MP4/MOV (the demuxer asks for header
parsing), and a packet's keyframe flag then comes from the parser, not from the file's
sync-sample table: an access unit is a keyframe when its first slice is an IDR slice, when a
recovery-point SEI precedes it, or when it is an I slice of a stream that references at most
one frame (``libavcodec/h264_parser.c``, ``parse_nal_units``). ``videx.probe_av`` reads a
clip's timeline from FFmpeg's index instead of demuxing every packet; for H.264 it asks this
module for the keyframes so that the result is the packet walk's (and ffprobe's).

Only what that decision needs is parsed: the parameter sets (in the avcC record and in-band),
SEI message types and the first three fields of the first slice header. Anything this module
does not follow (slice groups, a truncated unit, an unknown layout) raises ``Unsure`` and the
caller walks the packets instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

IDR, SLICE, SEI, SPS, PPS = 5, 1, 6, 7, 8
RECOVERY_POINT = 6
MAX_FRAME_NUM_LOG2 = 16          # FFmpeg refuses a recovery_frame_cnt of 2^16 or more
HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135, 144}
MAX_HEADER_NAL = 1 << 20         # bytes: a parameter set or SEI larger than this is not read
PARAMETER_SET_MAX = 4096         # bytes of a parameter set parsed (real ones: tens of bytes)
PICT_I = 2                        # slice_type % 5 of an I slice (FFmpeg: AV_PICTURE_TYPE_I)


class Unsure(Exception):
    """This module cannot say what FFmpeg's parser would; walk the packets."""


class Bits:
    """An H.264 RBSP read bit by bit (emulation-prevention bytes already removed)."""

    def __init__(self, data: bytes):
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def bits(self, n: int) -> int:
        if n > self.left:
            raise Unsure("read past the end of a NAL unit")
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        rest = self.value & ((1 << self.left) - 1)
        zeros = self.left - rest.bit_length()        # leading zero bits, counted at once
        if zeros > 31 or 2 * zeros + 1 > self.left:
            raise Unsure("a malformed Exp-Golomb code")
        self.left -= 2 * zeros + 1
        return ((rest >> self.left) & ((1 << (zeros + 1)) - 1)) - 1

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


def rbsp(nal) -> bytes:
    """The NAL unit's payload (bytes or a memoryview) without its header byte and its
    emulation-prevention bytes."""
    body = bytes(nal[1:])
    return body.replace(b"\x00\x00\x03", b"\x00\x00") if b"\x00\x00\x03" in body else body


class Stream:
    """The parameter sets seen so far (FFmpeg's parser keeps them across packets):
    ``refs[sps_id]`` is max_num_ref_frames, ``pps[pps_id]`` is (sps_id, ref_count_l0)."""

    def __init__(self, extradata: bytes | None):
        self.refs: dict[int, int] = {}
        self.pps: dict[int, tuple[int, int]] = {}
        self.one_ref = False             # could FFmpeg's one-reference heuristic apply?
        self.length_size = self._avcc(extradata or b"")

    def _avcc(self, data: bytes) -> int:
        """Read an avcC record's parameter sets; return its NAL length size (bytes)."""
        if len(data) < 7 or data[0] != 1:
            raise Unsure("no avcC record (Annex B H.264 in MP4)")
        length_size = (data[4] & 3) + 1
        if length_size == 3:
            raise Unsure("NAL length size 3")
        pos, count = 6, data[5] & 0x1F
        for kind in ("sps", "pps"):
            for _ in range(count):
                n = int.from_bytes(data[pos:pos + 2], "big")
                self.parameter_set(data[pos + 2:pos + 2 + n])
                pos += 2 + n
            if kind == "sps":
                if pos >= len(data):
                    raise Unsure("avcC record without picture parameter sets")
                count, pos = data[pos], pos + 1
        return length_size

    def parameter_set(self, nal: bytes) -> None:
        if not nal:
            return
        nal = nal[:PARAMETER_SET_MAX]    # real ones are tens of bytes; a longer one runs out
        kind = nal[0] & 0x1F
        if kind == SPS:
            self._sps(Bits(rbsp(nal)))
        elif kind == PPS:
            self._pps(Bits(rbsp(nal)))

    def _sps(self, b: Bits) -> None:
        profile = b.bits(8)
        b.bits(16)                                   # constraint flags, level
        sps_id = b.ue()
        if profile in HIGH_PROFILES:
            chroma = b.ue()
            if chroma == 3:
                b.bits(1)                            # separate_colour_plane_flag
            b.ue()
            b.ue()                                   # bit depths
            b.bits(1)                                # qpprime_y_zero_transform_bypass
            if b.bits(1):                            # seq_scaling_matrix_present
                for i in range(12 if chroma == 3 else 8):
                    if b.bits(1):
                        _skip_scaling_list(b, 16 if i < 6 else 64)
        b.ue()                                       # log2_max_frame_num_minus4
        poc_type = b.ue()
        if poc_type == 0:
            b.ue()
        elif poc_type == 1:
            b.bits(1)
            b.se()
            b.se()
            cycle = b.ue()
            if cycle > 255:                          # FFmpeg refuses such a sequence too
                raise Unsure("a picture order cycle over 255 frames")
            for _ in range(cycle):
                b.se()
        self.refs[sps_id] = b.ue()                   # max_num_ref_frames
        self.one_ref = any(refs <= 1 for refs in self.refs.values())

    def _pps(self, b: Bits) -> None:
        pps_id, sps_id = b.ue(), b.ue()
        b.bits(2)                                    # entropy coding, pic order present
        if b.ue() > 0:
            raise Unsure("slice groups (FMO)")
        self.pps[pps_id] = (sps_id, b.ue() + 1)      # num_ref_idx_l0_default_active

    def is_key(self, read: Callable[[int, int], bytes], start: int, end: int) -> bool:
        """Whether FFmpeg's parser flags the access unit (one MP4 sample) at byte offsets
        ``start``-``end`` a keyframe; ``read(offset, n)`` gives the file's bytes. Only the
        NAL units up to the first slice are read, and of that slice its first bytes."""
        recovery, pos, size = False, start, self.length_size
        while pos + size < end:
            n = int.from_bytes(read(pos, size), "big")
            if n == 0 or pos + size + n > end:
                raise Unsure("an empty NAL unit, or one that runs past its sample")
            head = pos + size
            pos = head + n
            kind = read(head, 1)[0] & 0x1F
            if kind in (SPS, PPS, SEI):
                if n > MAX_HEADER_NAL:
                    raise Unsure("an oversized parameter set or SEI")
                nal = read(head, n)
                if kind == SEI:
                    recovery = _has_recovery_point(rbsp(nal)) or recovery
                else:
                    self.parameter_set(nal)
            elif kind == IDR or (kind == SLICE and recovery):
                return True                          # key whatever the slice header says
            elif kind == SLICE:
                return self.one_ref and self._slice_is_key(rbsp(read(head, min(n, 24))))
        return False                                 # no picture in the unit

    def _slice_is_key(self, header: bytes) -> bool:
        """A non-IDR slice with no recovery point before it: a keyframe only by FFmpeg's
        heuristic for streams that reference one frame (an I slice, one reference frame in
        the sequence and one in the picture parameter set)."""
        b = Bits(header)
        b.ue()                                       # first_mb_in_slice
        intra = b.ue() % 5 == PICT_I
        pps = self.pps.get(b.ue())
        if pps is None or pps[0] not in self.refs:   # FFmpeg stops here: not a keyframe
            return False
        return intra and self.refs[pps[0]] <= 1 and pps[1] <= 1


def _skip_scaling_list(b: Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + b.se()) % 256
        last = nxt or last


def _sei_number(payload: bytes, pos: int) -> tuple[int | None, int]:
    """An SEI payload type or size at ``pos`` (0xFF bytes adding 255 each, then the last
    byte) and the position after it; None when the unit ends first."""
    value = 0
    while pos < len(payload) and payload[pos] == 0xFF:
        value, pos = value + 255, pos + 1
    if pos >= len(payload):
        return None, pos
    return value + payload[pos], pos + 1


def _has_recovery_point(payload: bytes) -> bool:
    """Whether an SEI NAL unit carries a valid recovery-point message."""
    pos = 0
    # as ff_h264_sei_decode: while more than 16 bits are left and they are not all zero
    while len(payload) - pos > 2 and payload[pos:pos + 2] != b"\x00\x00":
        kind, pos = _sei_number(payload, pos)
        size, pos = _sei_number(payload, pos)
        if kind is None or size is None or size > len(payload) - pos:
            return False                             # FFmpeg gives up on the unit's SEI
        if kind == RECOVERY_POINT:
            try:
                return Bits(payload[pos:pos + size]).ue() < (1 << MAX_FRAME_NUM_LOG2)
            except Unsure:
                return False
        pos += size
    return False


def keyframes(extradata: bytes | None, read: Callable[[int, int], bytes],
              spans: Iterable[tuple[int, int]]) -> list[bool]:
    """The keyframe flag FFmpeg's parser gives each access unit: ``read(offset, n)`` gives
    the file's bytes, ``spans`` the (start, end) byte offsets of the track's samples in
    decode order. Raises Unsure when it cannot tell.

    Most units start with their one slice: an IDR slice is a keyframe and, unless the stream
    could meet the one-reference heuristic, a plain slice is not, which one read of a few
    bytes tells; only the others (parameter sets, SEI, the heuristic) read more."""
    stream = Stream(extradata)
    size = stream.length_size
    flags = []
    for start, end in spans:
        if start + size < end:
            first = read(start, size + 1)
            if len(first) == size + 1 and any(first[:size]):   # a first NAL unit, not empty
                kind = first[size] & 0x1F
                if kind == IDR:
                    flags.append(True)
                    continue
                if kind == SLICE and not stream.one_ref:
                    flags.append(False)
                    continue
        flags.append(stream.is_key(read, start, end))
    return flags
