"""``srgan report``: one self-contained HTML page to look at results rather than read them.

Two kinds of page. ``compare``, for images: per LR image a before/after slider (any two of LR, bicubic, SR and HR
when it is known; or, for two models, of LR, each model's result and HR), the crops where the compared pair differs
most shown enlarged with nearest-neighbour pixels, and PSNR-Y/SSIM-Y with the benchmark protocol (border crop =
scale) when HR is known. ``run``, for a training run folder: loss, validation and throughput curves (matplotlib,
Agg) — for a GAN run also D's accuracy and NIQE —, the newest preview grids, a summary (best validation, a failed
stop), the config and the end of the log; it needs neither torch nor the image pipeline.

``page`` holds what both share: the frame, with everything inline (images as data: URIs, the CSS and JS of
``report.css`` and ``report.js``) under a Content-Security-Policy that forbids any fetch, so the file can be mailed
or archived and opens offline exactly as it was written.
"""
