"""Read and validate a model bundle folder (used by the app's model manager too)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from .manifest import FORMAT_VERSION, MANIFEST_NAME, REQUIRED_FILES, FileInfo, Manifest
from .signature import decoder_problems, embedding_shapes, encoder_problems


class BundleError(Exception):
    """A bundle is missing files or does not match its model.json; lists every problem."""

    def __init__(self, root: Path, problems: list[str]) -> None:
        self.root = Path(root)
        self.problems = problems
        super().__init__(f"invalid model bundle {root}:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: Manifest

    def path(self, name: str) -> Path:
        return self.root / name

    @property
    def encoder(self) -> Path:
        return self.root / self.manifest.encoder.file

    @property
    def decoder(self) -> Path:
        return self.root / self.manifest.decoder.file


def file_info(path: Path) -> FileInfo:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return FileInfo(bytes=path.stat().st_size, sha256=h.hexdigest())


def load_manifest(root: Path) -> Manifest:
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(root, [f"{MANIFEST_NAME} not found"])
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(root, [f"{MANIFEST_NAME} is not valid JSON: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise BundleError(root, [f"{MANIFEST_NAME} must hold a JSON object"])
    version = raw.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise BundleError(
            root,
            [
                f"{MANIFEST_NAME} has format_version {version}; "
                f"this runtime reads up to {FORMAT_VERSION}"
            ],
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{MANIFEST_NAME}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
        ]
        raise BundleError(root, problems) from exc


def listed_files(m: Manifest) -> list[str]:
    names = [m.encoder.file, m.decoder.file, m.checkpoint]
    names += [q.file for q in (m.encoder_int8, m.decoder_int8, m.decoder_fast) if q is not None]
    names += list((m.torchscript or {}).values())
    names += [
        f.external_data
        for f in (m.encoder, m.decoder, m.encoder_int8, m.decoder_int8, m.decoder_fast)
        if f is not None and f.external_data
    ]
    return names


def read_bundle(root: str | Path, verify_hashes: bool = True, check_onnx: bool = True) -> Bundle:
    """Return the bundle, or raise BundleError listing everything that is wrong."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(root, ["not a folder"])
    manifest = load_manifest(root)
    problems: list[str] = []
    for name in sorted(set(REQUIRED_FILES) | set(listed_files(manifest))):
        if not (root / name).is_file():
            problems.append(f"{name} is missing")
    if problems:
        raise BundleError(root, problems)
    if verify_hashes:
        for name, expected in manifest.files.items():
            if not (root / name).is_file():
                problems.append(f"{name} is listed in {MANIFEST_NAME} files but missing")
                continue
            actual = file_info(root / name)
            if actual.bytes != expected.bytes:
                problems.append(
                    f"{name} has {actual.bytes} bytes, {MANIFEST_NAME} says {expected.bytes} "
                    "(truncated or replaced?)"
                )
            elif actual.sha256 != expected.sha256:
                problems.append(
                    f"{name} sha256 differs from {MANIFEST_NAME} (file changed after export)"
                )
    if check_onnx and not problems:
        size = manifest.preprocessing.image_size
        problems += encoder_problems(root / manifest.encoder.file, size)
        problems += decoder_problems(root / manifest.decoder.file)
        for q, check in (
            (manifest.encoder_int8, lambda p: encoder_problems(p, size)),
            (manifest.decoder_int8, decoder_problems),
        ):
            if q is not None:
                problems += check(root / q.file)
        if not problems:
            enc_out, dec_in = embedding_shapes(
                root / manifest.encoder.file, root / manifest.decoder.file
            )
            # The exporter may leave the encoder's output dims symbolic; compare the known ones.
            clash = len(enc_out) != len(dec_in) or any(
                isinstance(a, int) and isinstance(b, int) and a != b
                for a, b in zip(enc_out, dec_in, strict=False)
            )
            if clash:
                problems.append(
                    f"encoder output {enc_out} does not match decoder image_embeddings {dec_in}"
                )
    if problems:
        raise BundleError(root, problems)
    return Bundle(root, manifest)
