"""trailcam: edge firmware for Raspberry Pi trail cameras.

Nothing here imports picamera2, libcamera, gpiozero's Pi backends or the model runtime at
module level: the package imports and its CLI runs on any machine.
"""

__version__ = "0.1.0"
