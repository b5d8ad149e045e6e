"""Check an ONNX file against the encoder / canonical decoder signature.

Used by the bundle validator and by the app's model manager, so any decoder that speaks
the canonical signature (official SAM exports included) is accepted and anything else gets
a message naming the file and what differs.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from .modules import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_INPUT, ENCODER_OUTPUT

_DECODER_RANKS = {
    "image_embeddings": 4,
    "point_coords": 3,
    "point_labels": 2,
    "mask_input": 4,
    "has_mask_input": 1,
    "orig_im_size": 1,
}


def _io(path: Path) -> tuple[dict[str, list[int | str]], dict[str, list[int | str]]]:
    """Input/output names and shapes (ints, or names of dynamic axes) of an ONNX file."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several unrelated types
        raise ValueError(
            f"{path}: not a readable ONNX model ({exc.__class__.__name__}: {exc})"
        ) from exc

    def dims(value_info: onnx.ValueInfoProto) -> list[int | str]:
        shape = value_info.type.tensor_type.shape
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in shape.dim]

    initializers = {i.name for i in model.graph.initializer}
    inputs = {v.name: dims(v) for v in model.graph.input if v.name not in initializers}
    outputs = {v.name: dims(v) for v in model.graph.output}
    return inputs, outputs


def decoder_problems(path: Path) -> list[str]:
    """Empty when ``path`` has the canonical SAM decoder signature."""
    try:
        inputs, outputs = _io(path)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    missing = [n for n in DECODER_INPUTS if n not in inputs]
    extra = [n for n in inputs if n not in DECODER_INPUTS]
    if missing:
        problems.append(f"{path.name}: missing decoder inputs {missing} (has {sorted(inputs)})")
    if extra:
        problems.append(f"{path.name}: unexpected decoder inputs {extra}")
    for name, rank in _DECODER_RANKS.items():
        if name in inputs and len(inputs[name]) != rank:
            problems.append(
                f"{path.name}: input {name} has rank {len(inputs[name])}, expected {rank}"
            )
    if (
        "point_coords" in inputs
        and len(inputs["point_coords"]) == 3
        and isinstance(inputs["point_coords"][1], int)
    ):
        problems.append(
            f"{path.name}: point_coords has a fixed number of points; it must be dynamic"
        )
    missing_out = [n for n in DECODER_OUTPUTS if n not in outputs]
    if missing_out:
        problems.append(
            f"{path.name}: missing decoder outputs {missing_out} (has {sorted(outputs)})"
        )
    return problems


def encoder_problems(path: Path, image_size: int | None = None) -> list[str]:
    try:
        inputs, outputs = _io(path)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    if list(inputs) != [ENCODER_INPUT]:
        problems.append(
            f"{path.name}: encoder inputs are {list(inputs)}, expected ['{ENCODER_INPUT}']"
        )
    elif image_size is not None and inputs[ENCODER_INPUT] != [1, 3, image_size, image_size]:
        problems.append(
            f"{path.name}: encoder input shape {inputs[ENCODER_INPUT]} does not match "
            f"preprocessing.image_size {image_size} (expected [1, 3, {image_size}, {image_size}])"
        )
    if ENCODER_OUTPUT not in outputs:
        problems.append(
            f"{path.name}: encoder outputs are {list(outputs)}, expected '{ENCODER_OUTPUT}'"
        )
    return problems


def embedding_shapes(encoder: Path, decoder: Path) -> tuple[list[int | str], list[int | str]]:
    return _io(encoder)[1].get(ENCODER_OUTPUT, []), _io(decoder)[0].get("image_embeddings", [])
