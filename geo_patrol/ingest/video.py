"""A short video sent with a report: its type checked from the bytes (the container's magic,
not the file's name), its size and length capped (ffprobe), and the copy served remuxed by
ffmpeg without metadata (no place, no time, no chapters), with a poster frame made into the
same JPEG copies as a photo's.

ffmpeg and ffprobe run without a shell, on files in a private temporary directory, with a
timeout; a file they cannot read is refused like any other bad input.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from geo_patrol.errors import ReportInputError
from geo_patrol.ingest.photos import SHOWN_PX, THUMB_PX, _jpeg

#: Seconds ffprobe or ffmpeg may take on one video before it is refused.
TOOL_TIMEOUT_S = 60.0
#: Media types and the extension of each container a video may come in.
VIDEO_TYPES: dict[str, tuple[str, str]] = {"mp4": ("video/mp4", "mp4"),
                                           "quicktime": ("video/quicktime", "mov"),
                                           "webm": ("video/webm", "webm")}
_EBML = b"\x1a\x45\xdf\xa3"


@dataclass(frozen=True)
class Video:
    """A checked video: its hash, container, size, length, the original (evidence, never
    served), the copy served without metadata, and its poster as shown and as thumbnail."""

    sha256: str
    mime: str
    extension: str
    width: int
    height: int
    duration_s: float
    original: bytes
    clip: bytes
    shown: bytes
    thumb: bytes


def container(data: bytes) -> str | None:
    """The container the bytes begin with: ``mp4`` or ``quicktime`` (an ISO base media
    ``ftyp`` box), ``webm`` (an EBML header naming webm), or ``None``."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "quicktime" if data[8:12] == b"qt  " else "mp4"
    if data[:4] == _EBML and b"webm" in data[:64]:
        return "webm"
    return None


def _refuse(code: str, message: str, name: str, **params: object) -> ReportInputError:
    return ReportInputError(code, message, file=name, **params)


def _run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, timeout=TOOL_TIMEOUT_S, check=True,
                          shell=False)


def read_video(data: bytes, *, name: str, max_bytes: int, max_s: float) -> Video:
    """Check a video from its bytes and make its copies; :class:`ReportInputError` names
    what is wrong (``video_too_large``, ``not_video``, ``video_too_long``)."""
    if len(data) > max_bytes:
        raise _refuse("video_too_large", f"the video is {len(data) / 1e6:.1f} MB; at most "
                      f"{max_bytes / 1e6:.0f} MB", name, mb=f"{max_bytes / 1e6:g}")
    kind = container(data)
    if kind is None:
        raise _refuse("not_video", "the file is not a video (MP4, QuickTime or WebM)", name)
    mime, extension = VIDEO_TYPES[kind]
    with tempfile.TemporaryDirectory(prefix="gp-video-") as tmp:
        src, clip, poster = (Path(tmp) / f"in.{extension}", Path(tmp) / f"clip.{extension}",
                             Path(tmp) / "poster.jpg")
        src.write_bytes(data)
        try:
            probe = json.loads(_run([
                "ffprobe", "-v", "error", "-show_entries",
                "format=duration:stream=codec_type,width,height", "-of", "json",
                str(src)]).stdout)
            video = [s for s in probe.get("streams", []) if s.get("codec_type") == "video"]
            duration = float(probe.get("format", {}).get("duration", "nan"))
            if not video or not duration == duration:
                raise ValueError("no video stream")
            if duration > max_s:
                raise _refuse("video_too_long", f"the video lasts {duration:.0f} s; at most "
                              f"{max_s:.0f} s", name, seconds=round(max_s))
            _run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-map", "0",
                  "-map_metadata", "-1", "-map_chapters", "-1", "-c", "copy",
                  "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
                  str(clip)])
            _run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-map_metadata",
                  "-1", "-frames:v", "1", "-q:v", "3", str(poster)])
            with Image.open(io.BytesIO(poster.read_bytes()), formats=["JPEG"]) as image:
                image.load()
                frame = image.convert("RGB")
            shown, thumb = _jpeg(frame, SHOWN_PX), _jpeg(frame, THUMB_PX)
            served = clip.read_bytes()
        except ReportInputError:
            raise
        except (subprocess.SubprocessError, OSError, ValueError, TypeError, KeyError,
                UnidentifiedImageError, json.JSONDecodeError):
            raise _refuse("not_video", "the file is not a video that can be read", name
                          ) from None
    return Video(sha256=hashlib.sha256(data).hexdigest(), mime=mime, extension=extension,
                 width=int(video[0].get("width") or frame.width),
                 height=int(video[0].get("height") or frame.height), duration_s=duration,
                 original=data, clip=served, shown=shown, thumb=thumb)
