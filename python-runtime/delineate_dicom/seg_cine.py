"""A SEG of a multi-frame image that has no Frame of Reference (an ultrasound or XA cine, a
multi-frame secondary capture).

highdicom 0.28 places SEG frames by patient coordinates and, without them, accepts a single
source frame only ("Only a single frame is supported when the source image has no Frame of
Reference UID"): its own limit, not the standard's. The standard identifies such a frame by
the source frame it was derived from (Derivation Image > Source Image > Referenced Frame
Number). So highdicom writes the object for one frame, which gives every module, the segment
descriptions and the shared groups exactly as for any SEG, and this module extends it to all
frames:

* one SEG frame per (source frame, segment) with pixels, in source-frame order;
* each frame's Derivation Image names its source frame; its Frame Content carries that frame
  as Temporal Position Index (a cine's frames are positions in time), and the dimension
  index is (Referenced Segment Number, Temporal Position Index), so frames stay unique;
* the pixel data is the frames' bits packed back to back, as binary SEGs store them.
"""

from __future__ import annotations

import copy

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

TEMPORAL_POSITION_INDEX = Tag(0x0020, 0x9128)
FRAME_CONTENT_SEQUENCE = Tag(0x0020, 0x9111)


# highdicom reads any image of a multi-frame SOP class (Multi-frame SC, US Multi-frame, XA)
# as an enhanced one with functional groups, which these have not: it is shown the source as
# a one-frame Secondary Capture, and the SEG's references get the real class back.
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def single_frame_view(src: Dataset) -> Dataset:
    """The source as highdicom can take it: a one-frame Secondary Capture with the same UIDs,
    so that the SEG it writes references the right instance."""
    view = copy.deepcopy(src)
    view.SOPClassUID = SECONDARY_CAPTURE
    for keyword in ("NumberOfFrames", "FrameIncrementPointer", "FrameTime", "FrameTimeVector", "PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        if keyword in view:
            delattr(view, keyword)
    return view


def restore_source_class(seg: Dataset, src: Dataset) -> None:
    """Give every reference to the source its real SOP class (see single_frame_view)."""
    uid, cls = str(src.SOPInstanceUID), str(src.SOPClassUID)

    def walk(ds: Dataset) -> None:
        for elem in ds:
            if elem.VR == "SQ":
                for item in elem.value:
                    if str(item.get("ReferencedSOPInstanceUID", "")) == uid and "ReferencedSOPClassUID" in item:
                        item.ReferencedSOPClassUID = cls
                    walk(item)

    walk(seg)


def extend_to_frames(
    seg: Dataset,
    src: Dataset,
    pixels: np.ndarray,
    segment_numbers: list[int],
) -> Dataset:
    """Make `seg` (highdicom's SEG of the source's first frame, one SEG frame per segment)
    hold every (frame, segment) of `pixels` ((frames, rows, columns, segments) bool) that has
    pixels."""
    template = {int(_item(fg, "SegmentIdentificationSequence", seg).ReferencedSegmentNumber): fg for fg in seg.PerFrameFunctionalGroupsSequence}
    items: list[Dataset] = []
    planes: list[np.ndarray] = []
    for f in range(pixels.shape[0]):
        for k, number in enumerate(segment_numbers):
            plane = pixels[f, :, :, k]
            if not plane.any():
                continue
            if number not in template:  # pixels_of_first gives every segment with pixels a frame
                raise ValueError(f"segment {number} has pixels but no frame in highdicom's SEG")
            fg = copy.deepcopy(template[number])
            if "DerivationImageSequence" not in fg:  # shared by highdicom: each frame needs its own
                fg.DerivationImageSequence = copy.deepcopy(seg.SharedFunctionalGroupsSequence[0].DerivationImageSequence)
            source = fg.DerivationImageSequence[0].SourceImageSequence[0]
            source.ReferencedFrameNumber = f + 1
            content = fg.FrameContentSequence[0]
            content.TemporalPositionIndex = f + 1
            content.DimensionIndexValues = [number, f + 1]
            items.append(fg)
            planes.append(plane)
    seg.PerFrameFunctionalGroupsSequence = Sequence(items)
    seg.NumberOfFrames = len(items)
    seg.PixelData = np.packbits(np.stack(planes).reshape(-1).astype(np.uint8), bitorder="little").tobytes()
    shared = seg.get("SharedFunctionalGroupsSequence")
    if shared and "DerivationImageSequence" in shared[0]:
        del shared[0].DerivationImageSequence
    _add_temporal_dimension(seg)
    restore_source_class(seg, src)
    return seg


def _item(fg: Dataset, keyword: str, seg: Dataset) -> Dataset:
    """A functional group's item: per frame, else from the shared groups."""
    shared = seg.get("SharedFunctionalGroupsSequence")
    seq = fg.get(keyword) or (shared[0].get(keyword) if shared else None)
    if not seq:
        raise ValueError(f"the SEG has no {keyword}")
    return seq[0]


def _add_temporal_dimension(seg: Dataset) -> None:
    dims = seg.DimensionIndexSequence
    if any(d.DimensionIndexPointer == TEMPORAL_POSITION_INDEX for d in dims):
        return
    d = Dataset()
    d.DimensionOrganizationUID = dims[0].DimensionOrganizationUID
    d.DimensionIndexPointer = TEMPORAL_POSITION_INDEX
    d.FunctionalGroupPointer = FRAME_CONTENT_SEQUENCE
    d.DimensionDescriptionLabel = "Source Frame"
    dims.append(d)


def pixels_of_first(pixels: np.ndarray) -> np.ndarray:
    """The one-frame array highdicom gets: every segment's pixels on any frame (so each
    segment that has pixels gets a template frame)."""
    return pixels.any(axis=0, keepdims=True)

