"""LoRa airtime (Semtech AN1200.13), duty-cycle off-time and the daily airtime budget."""
from __future__ import annotations

import math

LORAWAN_OVERHEAD = 13  # MHDR + FHDR (7) + FPort + MIC: bytes added to the application payload

# DR0..DR5 = SF12..SF7 at 125 kHz in RU864, EU868 and AS923.
DR_TO_SF = {0: 12, 1: 11, 2: 10, 3: 9, 4: 8, 5: 7}

# Largest application payload per data rate (AS923 with the dwell-time limit; None = not allowed).
MAX_PAYLOAD = {
    "RU864": (51, 51, 51, 115, 242, 242),
    "EU868": (51, 51, 51, 115, 242, 242),
    "AS923": (None, None, 11, 53, 125, 242),
}

RX2_DELAY_S = 2.0  # RECEIVE_DELAY2: TX_DONE comes after both receive windows
JOIN_ACCEPT_DELAY2_S = 6.0


def airtime_s(app_payload: int, sf: int, bw_hz: int = 125_000, cr: int = 1, crc: bool = True,
              implicit_header: bool = False, preamble: int = 8) -> float:
    """Time on air of one uplink carrying `app_payload` application bytes."""
    tsym = (2 ** sf) / bw_hz
    de = 1 if (sf >= 11 and bw_hz == 125_000) else 0
    pl = app_payload + LORAWAN_OVERHEAD
    num = 8 * pl - 4 * sf + 28 + 16 * (1 if crc else 0) - 20 * (1 if implicit_header else 0)
    npay = 8 + max(math.ceil(num / (4 * (sf - 2 * de))) * (cr + 4), 0)
    return (preamble + 4.25) * tsym + npay * tsym


def dr_airtime_s(app_payload: int, dr: int) -> float:
    return airtime_s(app_payload, DR_TO_SF[dr])


def off_time_s(airtime: float, duty_cycle: float) -> float:
    """Silence needed after a transmission of `airtime` seconds in a band with this duty cycle."""
    return airtime * (1.0 / duty_cycle - 1.0)


def tx_timeout_s(app_payload: int, dr: int, confirmed: bool) -> float:
    """Longest sensible wait for the modem's terminal line after AT+SEND was accepted."""
    rx_windows = RX2_DELAY_S + dr_airtime_s(12, dr) + 1.0
    tries = 8 if confirmed else 1  # RUI3 retransmits a confirmed uplink up to 8 times
    return tries * (dr_airtime_s(app_payload, dr) + rx_windows) + 5.0
