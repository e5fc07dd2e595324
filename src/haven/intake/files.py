"""Evidence files: what is accepted, how it is checked, and how it is kept.

A file is accepted when its content is one of the kinds below and its name does not claim
another kind (a program renamed ``photo.jpg`` is refused, not stored). Its SHA-256 is taken on
arrival, before anything else touches it. The original is kept as received, for the chain of
custody; pictures also get a copy without their metadata (camera, GPS position, time), which is
the copy anyone looks at. Both are encrypted on disk with the data key, bound to the evidence
record, and written atomically, so a crash leaves no half-written file under a record's name.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePath

from PIL import Image, ImageOps

from haven.crypto.fields import FieldCipher
from haven.errors import HavenError, ValidationFailed

MEBIBYTE = 1024 * 1024
# A picture larger than this many pixels is refused: a small file can unpack to gigabytes.
MAX_PIXELS = 60_000_000


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


def check_file(filename: str, content: bytes, *, max_bytes: int) -> Checked:
    """Accept a file or refuse it with a reason; never stores anything."""
    name = PurePath(filename.replace("\\", "/")).name.strip() or "file"
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
    """A copy of a picture without EXIF, XMP, ICC or text chunks, turned upright first."""
    if kind.image_format is None:
        return None
    unreadable = FileRefused(
        f"{name} is not a readable {kind.description}", reason="unreadable", name=name
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[kind.image_format]) as image:
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
    if kind.image_format == "JPEG":
        pixels = pixels.convert("RGB") if pixels.mode not in ("RGB", "L") else pixels
        pixels.save(out, "JPEG", quality=92)
    else:
        pixels.save(out, kind.image_format)
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
        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free - size > self.reserve_bytes

    def put(self, cipher: FieldCipher, evidence_id: str, copy: str, content: bytes) -> Path:
        if not self.room_for(len(content)):
            raise StorageFull(
                "there is no room to keep files right now",
                hint="your report is kept; add the files later with your receipt code",
            )
        target = self.path(evidence_id, copy)
        target.parent.mkdir(parents=True, exist_ok=True)
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
