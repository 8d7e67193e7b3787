"""Image files in and out: the one decoder behind training, evaluation, reports and upscaling, and the writers.

Loading gives a ``Picture``: upright pixels (EXIF orientation applied) as uint8 or uint16 arrays, colour and alpha
apart, plus the metadata worth carrying to the output. ``read_rgb8`` reduces a Picture to what datasets, metrics
and report pages need, (H, W, 3) uint8 RGB: grey replicated into the three channels, alpha dropped (the colour
channels are kept as stored, not composited), 16 bits rounded to 8 (v · 255 / 65535). So ``srgan eval`` and
``srgan train`` see the pixels ``srgan upscale`` sees. ``scan_folder`` is the one way folders are searched for
images (``INPUT_EXTENSIONS``).

The floors, each importing only those below it:

- ``output``: output policy (format by extension, what a format cannot hold), ``save`` and ``save_bands``; writes
  through ``srgan.fileio.output_file`` (a temporary file renamed into place: a failure never leaves a partial file).
- ``png`` (srgan's PNG writer) and ``tiff`` (tifffile), both fed by ``bands`` (rows regrouped into chunks).
- ``decode``: files to Pictures, folder scans.
- ``picture``: ``Picture``, ``Metadata`` and the conversions both directions share.
"""

from srgan.images.decode import DEFAULT_MAX_PIXELS, from_pil, load, not_a_file, read_rgb8, scan_folder, upright
from srgan.images.output import BAND_FORMATS, output_format, prepare_output, save, save_bands
from srgan.images.picture import EXTENSION_FORMATS, INPUT_EXTENSIONS, Metadata, Picture, to_pil
from srgan.images.png import PNG_COMPRESSION

__all__ = [
    "BAND_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "EXTENSION_FORMATS",
    "INPUT_EXTENSIONS",
    "PNG_COMPRESSION",
    "Metadata",
    "Picture",
    "from_pil",
    "load",
    "not_a_file",
    "output_format",
    "prepare_output",
    "read_rgb8",
    "save",
    "save_bands",
    "scan_folder",
    "to_pil",
    "upright",
]
