"""Evidence files: what is accepted, how it is checked, and how it is kept.

A file is accepted when its content is one of the kinds below and its name does not claim
another kind (a program renamed ``photo.jpg`` is refused, not stored). Its name is made safe to
store, show and offer for download (:func:`safe_filename`); no name is refused. Its SHA-256 is
taken on arrival, before anything else touches it. The original is kept as received, for the
chain of custody; pictures and PDF documents also get a copy without their metadata (camera, GPS
position, author, the program that wrote it), which is the copy anyone looks at. Both are
encrypted on disk with the data key, bound to the evidence record, and written atomically, so a
crash leaves no half-written file under a record's name.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePath

import pikepdf
from PIL import Image, ImageOps

from haven.crypto.fields import FieldCipher
from haven.errors import HavenError, ValidationFailed

MEBIBYTE = 1024 * 1024
# A picture larger than this many pixels is refused: a small file can unpack to gigabytes.
MAX_PIXELS = 60_000_000
# The longest name ext4 and APFS keep (NTFS counts 255 UTF-16 units, never fewer), so a
# downloaded file can be saved under its name.
MAX_NAME_BYTES = 255
# A longer "extension" is kept as part of the name when a name is cut.
_LONGEST_EXTENSION = 16
# Invisible marks that turn the direction of text: "\u202eexe.txt" shows as "txt.exe".
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f" + "".join(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
)


class FileRefused(ValidationFailed):
    """A file that cannot be accepted, with the reason a reporter can act on. ``reason`` names
    the rule broken, so a page can say it in the reader's language."""

    def __init__(self, message: str, *, reason: str, name: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.name = name


class StorageFull(HavenError):
    status = 507


@dataclass(frozen=True, slots=True)
class Kind:
    media_type: str
    description: str
    extensions: frozenset[str]
    image_format: str | None = None


KINDS = (
    Kind("image/jpeg", "JPEG picture", frozenset({".jpg", ".jpeg", ".jfif"}), "JPEG"),
    Kind("image/png", "PNG picture", frozenset({".png"}), "PNG"),
    Kind("image/webp", "WebP picture", frozenset({".webp"}), "WEBP"),
    Kind("application/pdf", "PDF document", frozenset({".pdf"})),
    Kind("audio/mpeg", "MP3 recording", frozenset({".mp3"})),
    Kind("audio/ogg", "Ogg recording", frozenset({".ogg", ".oga", ".opus"})),
    Kind("audio/mp4", "M4A recording", frozenset({".m4a"})),
    Kind("video/mp4", "MP4 video", frozenset({".mp4", ".m4v", ".mov"})),
    Kind("text/plain", "text file", frozenset({".txt"})),
)
ACCEPTED = ", ".join(kind.description for kind in KINDS)
_BY_TYPE = {kind.media_type: kind for kind in KINDS}


def sniff(content: bytes) -> Kind | None:
    """The kind of file ``content`` is, from its first bytes; None for anything else."""
    head = content[:64]
    found: str | None = None
    if head.startswith(b"\xff\xd8\xff"):
        found = "image/jpeg"
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        found = "image/png"
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        found = "image/webp"
    elif head.startswith(b"%PDF-"):
        found = "application/pdf"
    elif head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        found = "audio/mpeg"
    elif head.startswith(b"OggS"):
        found = "audio/ogg"
    elif head[4:8] == b"ftyp":
        brand = head[8:12]
        found = "audio/mp4" if brand in (b"M4A ", b"M4B ") else "video/mp4"
    elif _is_text(content):
        found = "text/plain"
    return _BY_TYPE.get(found) if found else None


def _is_text(content: bytes) -> bool:
    if b"\x00" in content:
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Checked:
    """A file that passed the checks, with what is known of it."""

    filename: str
    kind: Kind
    content: bytes
    sha256: str
    clean: bytes | None

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def clean_sha256(self) -> str | None:
        return None if self.clean is None else hashlib.sha256(self.clean).hexdigest()


def safe_filename(raw: str) -> str:
    """The name a file is kept under: the last part of a path (browsers once sent the whole
    path), without control characters (line breaks and tabs become spaces) or marks that turn
    the direction of text, in Unicode NFC, without dots or spaces at either end, and at most
    :data:`MAX_NAME_BYTES` bytes of UTF-8, cut before the extension. What is left of a name with
    nothing to keep is "file". Applied to its own result it changes nothing."""
    kept = "".join(" " if c.isspace() else "" if _dropped(c) else c for c in raw)
    name = PurePath(unicodedata.normalize("NFC", kept).replace("\\", "/")).name
    name = " ".join(name.split()).strip(". ")
    return _cut(name, MAX_NAME_BYTES) or "file"


def _dropped(char: str) -> bool:
    # Cc: C0 and C1 controls (NUL, ESC, DEL); Cs: halves of a UTF-16 pair, which UTF-8 cannot hold.
    return char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs")


def _cut(name: str, limit: int) -> str:
    if len(name.encode()) <= limit:
        return name
    extension = PurePath(name).suffix
    if len(extension.encode()) > _LONGEST_EXTENSION:
        extension = ""
    stem = name.removesuffix(extension) if extension else name
    room = limit - len(extension.encode())
    # Cut on a character boundary: a half character would not decode.
    stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip(". ")
    return stem + extension


def check_file(filename: str, content: bytes, *, max_bytes: int) -> Checked:
    """Accept a file or refuse it with a reason; never stores anything."""
    name = safe_filename(filename)
    if len(content) > max_bytes:
        raise FileRefused(
            f"{name} is larger than {_size(max_bytes)}, the most a file may be",
            reason="too-large",
            name=name,
            hint="send a smaller file, or split it",
        )
    if not content:
        raise FileRefused(f"{name} is empty", reason="empty", name=name)
    kind = sniff(content)
    if kind is None:
        raise FileRefused(
            f"{name} is not a kind of file Haven accepts",
            reason="kind",
            name=name,
            hint=f"accepted: {ACCEPTED}",
        )
    extension = PurePath(name).suffix.lower()
    if extension and extension not in kind.extensions:
        raise FileRefused(
            f"{name} is named like a {extension} file but its content is a {kind.description}",
            reason="disguised",
            name=name,
            hint="files whose name and content disagree are refused; rename it and try again",
        )
    sha256 = hashlib.sha256(content).hexdigest()
    clean = _without_metadata(name, kind, content)
    return Checked(name, kind, content, sha256, clean)


def _without_metadata(name: str, kind: Kind, content: bytes) -> bytes | None:
    """The copy anyone looks at, for the kinds Haven can clean; None for the others."""
    if kind.image_format is not None:
        return _picture_without_metadata(name, kind, kind.image_format, content)
    if kind.media_type == "application/pdf":
        return _pdf_without_metadata(content)
    return None


def _picture_without_metadata(name: str, kind: Kind, image_format: str, content: bytes) -> bytes:
    """A copy of a picture without EXIF, XMP, ICC or text chunks, turned upright first."""
    unreadable = FileRefused(
        f"{name} is not a readable {kind.description}", reason="unreadable", name=name
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[image_format]) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise FileRefused(
                        f"{name} has too many pixels to be checked safely",
                        reason="unreadable",
                        name=name,
                    )
                upright = ImageOps.exif_transpose(image)
                if upright.mode in ("P", "PA", "LA", "I;16"):
                    upright = upright.convert("RGBA" if "A" in upright.mode else "RGB")
                # Only the pixels cross over: no info, EXIF, XMP or ICC profile comes along.
                pixels = Image.frombytes(upright.mode, upright.size, upright.tobytes())
    except FileRefused:
        raise
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise unreadable from None
    out = io.BytesIO()
    if image_format == "JPEG":
        pixels = pixels.convert("RGB") if pixels.mode not in ("RGB", "L") else pixels
        pixels.save(out, "JPEG", quality=92)
    else:
        pixels.save(out, image_format)
    return out.getvalue()


# Where a PDF keeps metadata besides its trailer's /Info: XMP streams (the document's and any
# page's or image's) and the private data of the program that made it.
_PDF_METADATA_KEYS = ("/Metadata", "/PieceInfo")


def _pdf_without_metadata(content: bytes) -> bytes | None:
    """A copy of a PDF without its document information (author, creator, producer, dates) or
    XMP metadata. None when qpdf cannot open it (a password, or damage it cannot repair): then
    only the original is kept, as for recordings, rather than refusing the evidence."""
    try:
        with pikepdf.open(io.BytesIO(content)) as pdf:
            for key in ("/Info", "/ID"):
                # /ID is often derived from the original's path and time; a new one is written.
                if key in pdf.trailer:
                    del pdf.trailer[key]
            for obj in pdf.objects:
                if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                    for key in _PDF_METADATA_KEYS:
                        if key in obj:
                            del obj[key]
            out = io.BytesIO()
            # Streams are copied as they are, never unpacked: a small file can unpack to gigabytes.
            # Only objects still referenced are written, so earlier revisions' metadata goes too.
            pdf.save(
                out,
                deterministic_id=True,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                recompress_flate=False,
            )
    except (pikepdf.PikepdfError, RuntimeError, ValueError):
        return None
    return out.getvalue()


def _size(n: int) -> str:
    if n >= MEBIBYTE:
        return f"{n / MEBIBYTE:.1f} MB"
    return f"{max(1, n // 1024)} KB"


class EvidenceStore:
    """Encrypted evidence files under ``root``, one directory level by id prefix."""

    def __init__(self, root: Path, *, reserve_bytes: int) -> None:
        self.root = root
        self.reserve_bytes = reserve_bytes

    def path(self, evidence_id: str, copy: str) -> Path:
        return self.root / evidence_id[-2:] / f"{evidence_id}.{copy}"

    def room_for(self, size: int) -> bool:
        # Evidence is the owner's alone, like the database and the key file.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free - size > self.reserve_bytes

    def put(self, cipher: FieldCipher, evidence_id: str, copy: str, content: bytes) -> Path:
        if not self.room_for(len(content)):
            raise StorageFull(
                "there is no room to keep files right now",
                hint="your report is kept; add the files later with your receipt code",
            )
        target = self.path(evidence_id, copy)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        self._write(target, cipher.encrypt(content, _context(evidence_id, copy)))
        return target

    @staticmethod
    def _write(target: Path, sealed: bytes) -> None:
        partial = target.with_suffix(target.suffix + ".partial")
        with open(partial, "wb") as handle:
            handle.write(sealed)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(target)

    def get(self, cipher: FieldCipher, evidence_id: str, copy: str) -> bytes:
        sealed = self.path(evidence_id, copy).read_bytes()
        return cipher.decrypt(sealed, _context(evidence_id, copy))

    def files(self) -> list[tuple[str, str, Path]]:
        """Every stored file as (evidence id, copy, path)."""
        if not self.root.exists():
            return []
        found = []
        for path in sorted(self.root.glob("*/*")):
            evidence_id, _, copy = path.name.partition(".")
            if copy in ("original", "clean"):
                found.append((evidence_id, copy, path))
        return found

    def reencrypt(self, cipher: FieldCipher) -> int:
        """Re-encrypt every file still under an older data key; returns how many changed."""
        changed = 0
        for evidence_id, copy, path in self.files():
            sealed = path.read_bytes()
            fresh = cipher.reencrypt(sealed, _context(evidence_id, copy))
            if fresh is not None:
                self._write(path, fresh)
                changed += 1
        return changed

    def key_numbers_in_use(self) -> set[int]:
        used = set()
        for _, _, path in self.files():
            with path.open("rb") as handle:
                used.add(FieldCipher.key_number(handle.read(64))[1])
        return used

    def discard(self, evidence_id: str) -> None:
        for copy in ("original", "clean"):
            self.path(evidence_id, copy).unlink(missing_ok=True)


def _context(evidence_id: str, copy: str) -> str:
    return f"evidence_files.{copy}:{evidence_id}"
