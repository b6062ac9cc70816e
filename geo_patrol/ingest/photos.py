"""Photos sent with a report: checked from their bytes (Pillow), their EXIF read, and the
copies that are shown made without it.

Nothing here trusts what a file says about itself: the type comes from the bytes, the size
from the image header Pillow reads (a picture claiming more pixels than allowed is refused
before it is decoded), and EXIF that claims fewer pixels than the picture holds is a lie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import warnings
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from PIL import Image, ImageOps, UnidentifiedImageError

from geo_patrol.errors import ReportInputError

#: Image formats a report's photo may be in (as Pillow names them), and their media types.
PHOTO_FORMATS: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: The longest side of the copy shown in full, and of its thumbnail (pixels).
SHOWN_PX = 1600
THUMB_PX = 320

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003
_TAKEN, _TAKEN_OFFSET, _DATETIME = 0x9003, 0x9011, 0x0132


@dataclass(frozen=True)
class Photo:
    """A checked photo: the bytes as sent (kept as evidence, never shown), the copies shown
    (JPEG without EXIF) and what its EXIF says about where and when it was taken."""

    sha256: str
    mime: str
    width: int
    height: int
    original: bytes
    shown: bytes
    thumb: bytes
    exif_lon: float | None = None
    exif_lat: float | None = None
    exif_at: dt.datetime | None = None

    @property
    def extension(self) -> str:
        return self.mime.split("/")[1].replace("jpeg", "jpg")


def _refuse(code: str, message: str, name: str, **params: object) -> ReportInputError:
    return ReportInputError(code, message, file=name, **params)


def _degrees(value: object, ref: object) -> float | None:
    try:
        d, m, s = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    out = d + m / 60 + s / 3600
    return -out if str(ref).upper() in ("S", "W") else out


def _taken_at(exif_ifd: dict, ifd0: dict, tz: str) -> dt.datetime | None:
    """When the photo was taken: EXIF's local time with its offset when it has one, else
    the city's time zone (cameras write the local time)."""
    text = exif_ifd.get(_TAKEN) or ifd0.get(_DATETIME)
    if not isinstance(text, str):
        return None
    try:
        local = dt.datetime.strptime(text.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone: dt.tzinfo = ZoneInfo(tz)
    offset = exif_ifd.get(_TAKEN_OFFSET)
    if isinstance(offset, str) and len(offset.strip("\x00")) == 6:
        try:
            zone = dt.datetime.strptime(offset.strip("\x00"), "%z").tzinfo or zone
        except ValueError:
            pass  # an offset that is not one: the city's zone
    return local.replace(tzinfo=zone).astimezone(dt.UTC)


def _jpeg(image: Image.Image, side_px: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((side_px, side_px))
    copy.info = {}  # no EXIF, XMP, ICC or comment travels into a copy that is shown
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def read_photo(data: bytes, *, name: str, max_bytes: int, max_pixels: int, tz: str) -> Photo:
    """Check a photo from its bytes and make its copies; :class:`ReportInputError` names
    what is wrong (``too_large``, ``not_image``, ``bomb``, ``size_lies``)."""
    if len(data) > max_bytes:
        raise _refuse("too_large", f"the photo is {len(data) / 1e6:.1f} MB; at most "
                      f"{max_bytes / 1e6:.0f} MB", name, mb=round(max_bytes / 1e6))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(PHOTO_FORMATS)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise _refuse("bomb", f"the picture is {width}×{height} pixels, more than "
                                  f"the {max_pixels} allowed", name, pixels=max_pixels)
                exif = image.getexif()
                exif_ifd, gps = exif.get_ifd(_EXIF_IFD), exif.get_ifd(_GPS_IFD)
                claimed = exif_ifd.get(_PIXEL_X), exif_ifd.get(_PIXEL_Y)
                if all(isinstance(c, int) and c > 0 for c in claimed) and \
                        claimed[0] * claimed[1] < width * height:
                    raise _refuse("size_lies", f"the photo's EXIF says {claimed[0]}×"
                                  f"{claimed[1]} pixels but it holds {width}×{height}", name)
                fmt = image.format or ""
                # a JPEG decoded at the smallest scale (1/2 to 1/8) still larger than the
                # shown copy: a camera's 40 megapixels cost a fraction of their full decoding
                image.draft("RGB", (SHOWN_PX, SHOWN_PX))
                image.load()
                # a photo straight from the camera is turned upright by its EXIF; one the
                # phone made smaller was drawn upright already (its EXIF, kept for the
                # checks, describes the camera's picture)
                resized = all(isinstance(c, int) for c in claimed) and claimed != (width, height)
                upright = image if resized else ImageOps.exif_transpose(image)
                upright = upright.convert("RGB")
                shown, thumb = _jpeg(upright, SHOWN_PX), _jpeg(upright, THUMB_PX)
    except ReportInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse("bomb", "the picture would decode to more pixels than allowed", name,
                      pixels=max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError,
            EOFError, ZeroDivisionError):
        raise _refuse("not_image", "the file is not a photo (JPEG, PNG or WebP)",
                      name) from None
    lon = _degrees(gps.get(4), gps.get(3)) if gps else None
    lat = _degrees(gps.get(2), gps.get(1)) if gps else None
    if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90) or \
            (lon == 0 and lat == 0):
        lon = lat = None
    return Photo(sha256=hashlib.sha256(data).hexdigest(), mime=PHOTO_FORMATS[fmt],
                 width=width, height=height, original=data, shown=shown, thumb=thumb,
                 exif_lon=lon, exif_lat=lat, exif_at=_taken_at(exif_ifd, dict(exif), tz))
