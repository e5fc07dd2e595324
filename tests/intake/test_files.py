"""Evidence files: what each kind looks like, what is refused and why, the names they are kept
under, metadata removal from pictures and PDF documents, and the encrypted store on disk."""

from __future__ import annotations

import hashlib
import io
import shutil
import unicodedata
from dataclasses import replace
from pathlib import Path

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngImageFile, PngInfo
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, ReportChannel
from haven.errors import KeyFileError
from haven.intake.files import (
    MAX_NAME_BYTES,
    MEBIBYTE,
    Checked,
    EvidenceStore,
    FileRefused,
    StorageFull,
    check_file,
    safe_filename,
    sniff,
)
from haven.intake.models import EvidenceFile
from haven.intake.reports import ReportIn, Submission, report_files, submit_report
from haven.registry.contributors import ensure_contributor
from haven.registry.models import Evidence

LIMIT = 5 * MEBIBYTE
CAMERA = "HavenProbeCam"
ORIENTATION = 0x0112
MAKE = 0x010F
GPS_INFO = 0x8825
EXIF_IFD = 0x8769
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
# A Windows program as it begins: "MZ", the DOS header, NUL bytes.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"
AUTHOR = "Leyla Haddad-Ortiz"
CREATOR = "HavenProbeWriter 3.1"
XMP_CREATOR = "Leyla H. (XMP)"
PAGE_XMP = b"<x:xmpmeta>HavenProbePageXmp</x:xmpmeta>"
TRACES = (AUTHOR, CREATOR, XMP_CREATOR, "HavenProbe", "Haddad")


def _pdf(*, metadata: bool = False, encryption: pikepdf.Encryption | None = None) -> bytes:
    """A one-page PDF; with ``metadata``, an author and creator in its document information, the
    same in its XMP, and an XMP stream on its page."""
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        if metadata:
            with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
                xmp["dc:creator"] = [XMP_CREATOR]
                xmp["xmp:CreatorTool"] = CREATOR
            # After the XMP, which would otherwise rewrite the document information from itself.
            pdf.docinfo["/Author"] = AUTHOR
            pdf.docinfo["/Creator"] = CREATOR
            pdf.docinfo["/Producer"] = CREATOR
            pdf.pages[0].obj["/Metadata"] = pdf.make_stream(PAGE_XMP)
        out = io.BytesIO()
        # Uncompressed, so the test can look for the metadata in the bytes themselves.
        pdf.save(out, compress_streams=False, encryption=encryption or False)
        return out.getvalue()


PDF = _pdf()
# Damaged beyond what qpdf repairs: no page tree.
BROKEN_PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
CLEANED = {"image/jpeg", "image/png", "image/webp", "application/pdf"}


def _picture(width: int = 40, height: int = 20) -> Image.Image:
    """Left half red, right half blue: a rotation shows in where the colours end up."""
    image = Image.new("RGB", (width, height), (220, 20, 20))
    image.paste((20, 20, 220), (width // 2, 0, width, height))
    return image


def _saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _jpeg_with_metadata() -> bytes:
    exif = Image.Exif()
    exif[MAKE] = CAMERA
    exif[ORIENTATION] = 6  # "turn 90 degrees clockwise to show"
    gps = exif.get_ifd(GPS_INFO)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.5)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 36.0)
    return _saved(_picture(), "JPEG", exif=exif, icc_profile=ICC, quality=95)


KINDS = [
    pytest.param("photo.jpg", _saved(_picture(), "JPEG"), "image/jpeg", id="jpeg"),
    pytest.param("photo.JPEG", _saved(_picture(), "JPEG"), "image/jpeg", id="jpeg-upper-case"),
    pytest.param("screen.png", _saved(_picture(), "PNG"), "image/png", id="png"),
    pytest.param("screen.webp", _saved(_picture(), "WEBP"), "image/webp", id="webp"),
    pytest.param("summons.pdf", PDF, "application/pdf", id="pdf"),
    pytest.param(
        "call.mp3",
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(400),
        "audio/mpeg",
        id="mp3-id3",
    ),
    pytest.param("call.mp3", b"\xff\xfb\x90\x64" + bytes(400), "audio/mpeg", id="mp3-frame"),
    pytest.param(
        "voice.ogg", b"OggS\x00\x02" + bytes(20) + b"\x01\x1eOpusHead", "audio/ogg", id="ogg"
    ),
    pytest.param(
        "voice.m4a",
        b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + bytes(64),
        "audio/mp4",
        id="m4a",
    ),
    pytest.param(
        "clip.mp4",
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64),
        "video/mp4",
        id="mp4",
    ),
    pytest.param(
        "notes.txt",
        "Звонок из консульства, 3 марта.\nرقم الهاتف\n".encode(),
        "text/plain",
        id="utf8-text",
    ),
    pytest.param("notes", b"no extension at all\n", "text/plain", id="text-without-extension"),
]


@pytest.mark.parametrize(("name", "content", "media_type"), KINDS)
def test_each_accepted_kind_is_recognised_from_its_bytes(
    name: str, content: bytes, media_type: str
) -> None:
    kind = sniff(content)
    assert kind is not None
    assert kind.media_type == media_type

    checked = check_file(name, content, max_bytes=LIMIT)

    assert checked.kind.media_type == media_type
    assert checked.filename == name
    assert checked.content == content
    assert checked.size == len(content)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()
    # Pictures and PDF documents get a clean copy; other kinds are kept as they came.
    assert (checked.clean is not None) == (media_type in CLEANED)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(EXE, id="exe"),
        pytest.param(b"\x7fELF\x02\x01\x01\x00" + bytes(56), id="elf"),
        pytest.param(b"PK\x03\x04\x14\x00\x00\x00" + bytes(30), id="zip"),
        pytest.param("latin-1 caf\xe9".encode("latin-1"), id="not-utf8-text"),
        pytest.param(b"text with a NUL\x00 inside", id="text-with-nul"),
    ],
)
def test_unknown_content_is_not_sniffed(content: bytes) -> None:
    assert sniff(content) is None


def test_a_file_over_the_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(FileRefused) as refused:
        check_file(
            "video.mp4", b"\x00\x00\x00\x18ftypisom" + bytes(3 * MEBIBYTE), max_bytes=LIMIT // 2
        )
    assert refused.value.reason == "too-large"
    assert refused.value.name == "video.mp4"
    assert "larger than 2.5 MB" in refused.value.message

    with pytest.raises(FileRefused) as small:
        check_file("notes.txt", b"x" * 5000, max_bytes=2048)
    assert small.value.reason == "too-large"
    assert "larger than 2 KB" in small.value.message


def test_a_file_of_exactly_the_limit_is_accepted() -> None:
    checked = check_file("notes.txt", b"x" * 2048, max_bytes=2048)
    assert checked.size == 2048
    with pytest.raises(FileRefused):
        check_file("notes.txt", b"x" * 2049, max_bytes=2048)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(FileRefused) as refused:
        check_file("nothing.txt", b"", max_bytes=LIMIT)
    assert refused.value.reason == "empty"
    assert "nothing.txt is empty" in refused.value.message


def test_a_program_named_like_a_photo_is_refused_as_an_unknown_kind() -> None:
    with pytest.raises(FileRefused) as refused:
        check_file("photo.jpg", EXE, max_bytes=LIMIT)
    assert refused.value.reason == "kind"
    assert refused.value.hint is not None
    assert "PDF document" in refused.value.hint


def test_a_pdf_named_like_a_photo_is_refused_as_disguised() -> None:
    with pytest.raises(FileRefused) as refused:
        check_file("photo.jpg", PDF, max_bytes=LIMIT)
    assert refused.value.reason == "disguised"
    assert ".jpg" in refused.value.message
    assert "PDF document" in refused.value.message


def test_a_path_in_the_name_is_dropped() -> None:
    checked = check_file("C:\\Users\\amina\\Desktop\\notes.txt", b"hello\n", max_bytes=LIMIT)
    assert checked.filename == "notes.txt"
    assert check_file("../../etc/notes.txt", b"hello\n", max_bytes=LIMIT).filename == "notes.txt"


TEXT = b"Transcript of the call.\n"
# Each name as given, the content it comes with, and the name kept.
_AWKWARD: dict[str, tuple[str, bytes, str]] = {
    "nul": ("a\x00b.pdf", PDF, "ab.pdf"),
    "line-break": ("a\nb.jpg", _saved(_picture(), "JPEG"), "a b.jpg"),
    "long": ("x" * 300 + ".png", _saved(_picture(), "PNG"), "x" * 251 + ".png"),
    "right-to-left-override": ("\u202eexe.txt", TEXT, "exe.txt"),
    "path": ("../../etc/passwd", TEXT, "passwd"),
    "empty": ("", TEXT, "file"),
    "multibyte": ("…" * 200, TEXT, "…" * 85),
    "escape-and-delete": ("\x1b[31mred\x7f.txt", TEXT, "[31mred.txt"),
    "dots": ("..", TEXT, "file"),
    "nfc": ("e\u0301te\u0301.txt", TEXT, "\u00e9t\u00e9.txt"),
    "multibyte-keeps-extension": ("é" * 200 + ".pdf", PDF, "é" * 125 + ".pdf"),
    "lone-surrogate": ("\ud83d.txt", TEXT, "txt"),
}
AWKWARD_NAMES = [pytest.param(*case, id=key) for key, case in _AWKWARD.items()]


@pytest.mark.parametrize(("name", "content", "kept"), AWKWARD_NAMES)
def test_an_awkward_name_is_made_safe_and_the_file_kept(
    name: str, content: bytes, kept: str
) -> None:
    checked = check_file(name, content, max_bytes=LIMIT)

    assert checked.filename == kept
    assert len(checked.filename.encode()) <= MAX_NAME_BYTES
    assert checked.content == content


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_name_becomes_one_that_is_safe_short_and_stable(raw: str) -> None:
    name = safe_filename(raw)

    assert name
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert unicodedata.is_normalized("NFC", name)
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in name)
    assert not {"/", "\\", "\u202e", "\u2066", "\u200f"} & set(name)
    assert name == name.strip(". ")
    assert safe_filename(name) == name


def test_a_long_name_keeps_its_extension_so_the_kind_check_still_applies() -> None:
    with pytest.raises(FileRefused) as refused:
        check_file("y" * 400 + ".jpg", PDF, max_bytes=LIMIT)
    assert refused.value.reason == "disguised"
    assert refused.value.name == "y" * 251 + ".jpg"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param(
            "photo.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, id="jpeg-magic-then-bytes"
        ),
        pytest.param(
            "photo.jpg",
            b"\xff\xd8\xff" + b"garbage, not a picture " * 40,
            id="jpeg-magic-then-text",
        ),
        pytest.param("photo.jpg", _saved(_picture(), "JPEG")[:120], id="jpeg-cut-short"),
        pytest.param(
            "screen.png", b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + bytes(40), id="png"
        ),
    ],
)
def test_a_picture_that_cannot_be_read_is_refused(name: str, content: bytes) -> None:
    with pytest.raises(FileRefused) as refused:
        check_file(name, content, max_bytes=LIMIT)
    assert refused.value.reason == "unreadable"


def test_a_picture_with_too_many_pixels_is_refused_before_it_is_unpacked() -> None:
    # 61 million one-bit pixels compress to a few kilobytes.
    content = _saved(Image.new("1", (7810, 7810)), "PNG")
    assert len(content) < MEBIBYTE
    with pytest.raises(FileRefused) as refused:
        check_file("huge.png", content, max_bytes=LIMIT)
    assert refused.value.reason == "unreadable"
    assert "too many pixels" in refused.value.message


def test_a_jpeg_loses_exif_gps_and_icc_and_is_turned_upright() -> None:
    original = _jpeg_with_metadata()
    with Image.open(io.BytesIO(original)) as before:
        # The test picture really carries what must go.
        assert before.size == (40, 20)
        assert before.getexif()[MAKE] == CAMERA
        assert before.getexif().get_ifd(GPS_INFO)[2] == (52.0, 31.0, 12.5)
        assert "icc_profile" in before.info
    assert CAMERA.encode() in original

    checked = check_file("photo.jpg", original, max_bytes=LIMIT)

    assert checked.clean is not None
    assert checked.clean_sha256 == hashlib.sha256(checked.clean).hexdigest()
    assert CAMERA.encode() not in checked.clean
    assert b"Exif" not in checked.clean
    assert b"ICC_PROFILE" not in checked.clean
    with Image.open(io.BytesIO(checked.clean)) as clean:
        assert clean.format == "JPEG"
        assert len(clean.getexif()) == 0
        assert clean.getexif().get_ifd(GPS_INFO) == {}
        assert "icc_profile" not in clean.info
        assert "exif" not in clean.info
        # Orientation 6 applied: the 40x20 picture stands 20x40, the red half on top.
        assert clean.size == (20, 40)
        rgb = clean.convert("RGB")
        top, bottom = rgb.getpixel((10, 5)), rgb.getpixel((10, 35))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 150 > top[2]
    assert bottom[2] > 150 > bottom[0]


def test_the_original_is_kept_byte_for_byte_and_hashed_as_received() -> None:
    original = _jpeg_with_metadata()

    checked = check_file("photo.jpg", original, max_bytes=LIMIT)

    assert checked.content == original
    assert checked.sha256 == hashlib.sha256(original).hexdigest()
    assert checked.clean_sha256 != checked.sha256


def test_a_png_loses_its_text_chunks() -> None:
    info = PngInfo()
    info.add_text("Author", "Secret Author Name")
    info.add_itxt("Comment", "Taken at Karl-Marx-Straße 12")
    original = _saved(_picture(), "PNG", pnginfo=info)
    with Image.open(io.BytesIO(original)) as before:
        assert isinstance(before, PngImageFile)
        assert before.text["Author"] == "Secret Author Name"

    checked = check_file("screen.png", original, max_bytes=LIMIT)

    assert checked.clean is not None
    assert b"Secret Author Name" not in checked.clean
    assert b"tEXt" not in checked.clean
    assert b"iTXt" not in checked.clean
    with Image.open(io.BytesIO(checked.clean)) as clean:
        assert isinstance(clean, PngImageFile)
        assert clean.text == {}
        assert clean.size == (40, 20)
    assert checked.content == original


def test_a_webp_loses_its_exif() -> None:
    exif = Image.Exif()
    exif[MAKE] = CAMERA
    original = _saved(_picture(), "WEBP", exif=exif, icc_profile=ICC)
    assert CAMERA.encode() in original

    checked = check_file("screen.webp", original, max_bytes=LIMIT)

    assert checked.clean is not None
    assert CAMERA.encode() not in checked.clean
    with Image.open(io.BytesIO(checked.clean)) as clean:
        assert clean.format == "WEBP"
        assert len(clean.getexif()) == 0
        assert "icc_profile" not in clean.info


def test_a_palette_png_gets_a_readable_clean_copy() -> None:
    original = _saved(_picture().convert("P"), "PNG")

    checked = check_file("screen.png", original, max_bytes=LIMIT)

    assert checked.clean is not None
    with Image.open(io.BytesIO(checked.clean)) as clean:
        assert clean.mode == "RGB"
        assert clean.size == (40, 20)


# -- PDF documents ---------------------------------------------------------------------------


def _metadata_of(content: bytes) -> tuple[set[str], bool]:
    """The document information keys of a PDF, and whether any object holds XMP."""
    with pikepdf.open(io.BytesIO(content)) as pdf:
        info = set(pdf.trailer.Info.keys()) if "/Info" in pdf.trailer else set()
        xmp = any(
            isinstance(obj, pikepdf.Dictionary | pikepdf.Stream) and "/Metadata" in obj
            for obj in pdf.objects
        )
        return info, xmp


def test_a_pdf_loses_its_document_information_and_xmp_and_keeps_its_pages() -> None:
    original = _pdf(metadata=True)
    assert _metadata_of(original) == ({"/Author", "/Creator", "/Producer"}, True)
    for trace in TRACES:
        assert trace.encode() in original

    checked = check_file("summons.pdf", original, max_bytes=LIMIT)

    assert checked.clean is not None
    assert _metadata_of(checked.clean) == (set(), False)
    for trace in TRACES:
        assert trace.encode() not in checked.clean
    with pikepdf.open(io.BytesIO(checked.clean)) as clean:
        assert len(clean.pages) == 1
    # The original is kept as it came, for the chain of custody, with its own digest.
    assert checked.content == original
    assert _metadata_of(checked.content)[0] == {"/Author", "/Creator", "/Producer"}
    assert checked.sha256 == hashlib.sha256(original).hexdigest()
    assert checked.clean_sha256 == hashlib.sha256(checked.clean).hexdigest()
    assert checked.clean_sha256 != checked.sha256
    # The same document gives the same clean copy: its new /ID comes from its content.
    assert check_file("again.pdf", original, max_bytes=LIMIT).clean == checked.clean


def test_a_pdf_with_only_an_owner_password_is_cleaned_and_left_unlocked() -> None:
    original = _pdf(metadata=True, encryption=pikepdf.Encryption(owner="owner-secret", user=""))

    checked = check_file("locked.pdf", original, max_bytes=LIMIT)

    assert checked.clean is not None
    assert _metadata_of(checked.clean) == (set(), False)
    with pikepdf.open(io.BytesIO(checked.clean)) as clean:
        assert not clean.is_encrypted


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(BROKEN_PDF, id="damaged"),
        pytest.param(
            _pdf(metadata=True, encryption=pikepdf.Encryption(owner="o", user="u")), id="password"
        ),
    ],
)
def test_a_pdf_that_cannot_be_opened_is_kept_as_it_came_without_a_clean_copy(
    content: bytes,
) -> None:
    checked = check_file("summons.pdf", content, max_bytes=LIMIT)

    assert checked.kind.media_type == "application/pdf"
    assert checked.clean is None
    assert checked.content == content


# -- through a report --------------------------------------------------------------------------

REPORT = ReportIn.model_validate(
    {
        "what_happened": "They called my mother and read out my address.",
        "tactics": ["intimidation"],
        "occurred": {"start": "2024-03-01", "precision": "month"},
        "origin_state": "by",
    }
)


def _submit(cipher: FieldCipher, session: Session, root: Path, files: list[Checked]) -> str:
    handler = ensure_contributor(
        session, cipher, "Exile Legal Aid", ContributorKind.NGO, "DE", actor="t"
    )
    submission = Submission(handler, ReportChannel.PUBLIC_FORM, "reporter", "report-form")
    receipt = submit_report(
        session, cipher, REPORT, submission, files, store=_store(root), written=[]
    )
    return receipt.report_id


def test_a_report_keeps_every_awkward_name_in_its_safe_form(
    cipher: FieldCipher, session: Session, tmp_path: Path
) -> None:
    files = [check_file(name, content, max_bytes=LIMIT) for name, content, _ in _AWKWARD.values()]
    # A file checked elsewhere, its name never made safe, does not fail the report either.
    files.append(replace(check_file("notes.txt", TEXT, max_bytes=LIMIT), filename="x\x00" * 200))

    report_id = _submit(cipher, session, tmp_path, files)

    names = sorted(view.filename for view in report_files(session, cipher, report_id))
    assert names == sorted([*(kept for _, _, kept in _AWKWARD.values()), "x" * 200])


def test_a_pdf_in_a_report_is_stored_twice_with_both_digests(
    cipher: FieldCipher, session: Session, tmp_path: Path
) -> None:
    original = _pdf(metadata=True)
    checked = check_file("summons.pdf", original, max_bytes=LIMIT)
    assert checked.clean is not None

    report_id = _submit(cipher, session, tmp_path, [checked])

    (view,) = report_files(session, cipher, report_id)
    assert view.cleaned
    evidence = session.get(Evidence, view.evidence_id)
    stored = session.get(EvidenceFile, view.evidence_id)
    assert evidence is not None
    assert stored is not None
    assert evidence.sha256 == hashlib.sha256(original).hexdigest()
    assert stored.clean_sha256 == hashlib.sha256(checked.clean).hexdigest()
    assert stored.clean_size == len(checked.clean)
    store = _store(tmp_path)
    assert store.get(cipher, view.evidence_id, "original") == original
    assert store.get(cipher, view.evidence_id, "clean") == checked.clean


# -- the store -------------------------------------------------------------------------------

EVIDENCE_ID = "0190a5c2-0000-7000-8000-00000000e001"
OTHER_ID = "0190a5c2-0000-7000-8000-00000000e002"
SECRET_TEXT = b"Statement of Leyla Haddad-Ortiz: the consulate called on 3 March."


def _store(root: Path, reserve: int = 0) -> EvidenceStore:
    return EvidenceStore(root / "evidence", reserve_bytes=reserve)


def test_put_and_get_round_trip_and_the_disk_holds_no_plaintext(
    cipher: FieldCipher, tmp_path: Path
) -> None:
    store = _store(tmp_path)

    path = store.put(cipher, EVIDENCE_ID, "original", SECRET_TEXT)

    assert path == store.path(EVIDENCE_ID, "original")
    assert path.is_file()
    raw = path.read_bytes()
    assert SECRET_TEXT not in raw
    assert b"Leyla" not in raw
    assert b"consulate" not in raw
    assert store.get(cipher, EVIDENCE_ID, "original") == SECRET_TEXT
    # Nothing half-written stays beside it.
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_file_moved_to_another_record_or_copy_does_not_decrypt(
    cipher: FieldCipher, tmp_path: Path
) -> None:
    store = _store(tmp_path)
    source = store.put(cipher, EVIDENCE_ID, "original", SECRET_TEXT)
    store.put(cipher, OTHER_ID, "original", b"another record's file")
    target = store.path(OTHER_ID, "original")
    shutil.copyfile(source, target)

    with pytest.raises(KeyFileError):
        store.get(cipher, OTHER_ID, "original")

    shutil.copyfile(source, store.path(EVIDENCE_ID, "clean"))
    with pytest.raises(KeyFileError):
        store.get(cipher, EVIDENCE_ID, "clean")
    assert store.get(cipher, EVIDENCE_ID, "original") == SECRET_TEXT


def test_discard_removes_both_copies_and_leaves_others(cipher: FieldCipher, tmp_path: Path) -> None:
    store = _store(tmp_path)
    checked = check_file("photo.jpg", _jpeg_with_metadata(), max_bytes=LIMIT)
    _put_both(store, cipher, EVIDENCE_ID, checked)
    _put_both(store, cipher, OTHER_ID, checked)
    assert store.get(cipher, EVIDENCE_ID, "clean") == checked.clean

    store.discard(EVIDENCE_ID)

    assert not store.path(EVIDENCE_ID, "original").exists()
    assert not store.path(EVIDENCE_ID, "clean").exists()
    assert store.get(cipher, OTHER_ID, "original") == checked.content
    assert store.get(cipher, OTHER_ID, "clean") == checked.clean
    store.discard(EVIDENCE_ID)  # discarding again is harmless


def _put_both(
    store: EvidenceStore, cipher: FieldCipher, evidence_id: str, checked: Checked
) -> None:
    store.put(cipher, evidence_id, "original", checked.content)
    assert checked.clean is not None
    store.put(cipher, evidence_id, "clean", checked.clean)


def test_room_for_respects_the_reserve(tmp_path: Path) -> None:
    assert _store(tmp_path, reserve=0).room_for(1024)
    free = shutil.disk_usage(tmp_path).free
    assert not _store(tmp_path, reserve=free + 10 * MEBIBYTE).room_for(1)
    assert not _store(tmp_path, reserve=0).room_for(free + 10 * MEBIBYTE)


def test_put_refuses_when_there_is_no_room_and_writes_nothing(
    cipher: FieldCipher, tmp_path: Path
) -> None:
    store = _store(tmp_path, reserve=1 << 62)

    with pytest.raises(StorageFull) as full:
        store.put(cipher, EVIDENCE_ID, "original", SECRET_TEXT)

    assert full.value.status == 507
    assert not store.path(EVIDENCE_ID, "original").exists()
    assert not store.path(EVIDENCE_ID, "original").parent.exists()
