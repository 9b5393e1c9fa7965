"""The bench simulator: the firmware's hardware seams, behaving like the hardware.

gpiozero's own MockFactory pins driven by a scenario, a camera that renders synthetic scenes or
replays real footage, a simulated clock so a day runs in seconds.
"""
