"""An external Monsoon power monitor (HVPM) through the `monsoon` package (optional extra).

The monitor powers the device under test from its main channel at an explicit Vout and
measures the current it draws at 5 kHz. Channels: `power` (W, the mean of V·I over each
output interval), `current` (A) and `voltage` (V) of the main channel.

Timestamps come from the monitor's own clock, not from when USB delivered a packet: the
monitor takes one reading every 200 µs, so reading number i is at `anchor + i × 200 µs`,
where the anchor is the host monotonic time at which the start-sampling command was
acknowledged (the midpoint of that control transfer; its duration is the anchor's
uncertainty). Every reading the monitor reports as dropped (the cumulative 16-bit counter in
each packet's header) counts as a tick, so a gap stays a gap instead of shifting later
samples. ZeroCal/RefCal calibration readings count as ticks too: melt takes them to be
interleaved in the 5 kHz stream; were they extra, the error is their share, about 2 readings
per 1.25 s (320 ppm), and would show as drift. Before the first measurement reading the
counter only sets the baseline: monitors often report 2^16 − 1 while they calibrate right
after the start, then restart from 0. How far USB delivery lags behind the monitor's clock is
recorded (`info().facts`), and its change over the run bounds the drift between the monitor's
clock and the host's.

What melt uses from the package: `HVPM.Monsoon` for the connection, EEPROM status
(`fillStatusPacket`), `setVout`, start/stop and `BulkRead`; `HVPM.Monsoon.swizzlePacket` to
unpack a 64-byte packet; `calibrationData` for the rolling ZeroCal/RefCal averages; and the
calibration formula of `sampleEngine.SampleEngine.__vectorProcess`. `SampleEngine` itself is
not used to collect: it stamps readings with the host time of the packet's arrival, keeps only
the latest dropped count, and its output lists are swapped without a lock, so reading them
from another thread while it samples can lose readings.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melt.errors import MeltError
from melt.extras import install_hint
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance, Sample

log = logging.getLogger(__name__)

INSTALL_HINT = install_hint("monsoon")
HARDWARE_RATE_HZ = 5000
TICK_NS = 1_000_000_000 // HARDWARE_RATE_HZ
DRAIN_LIMIT_S = 5.0  # at most this long spent reading the buffered tail at stop
DEFAULT_RATE_HZ = 1000.0
HVPM_VOUT_RANGE_V = (0.8, 13.5)
DEFAULT_MAX_VOUT_V = 4.55
CAL_TIME_MS = 1250
PACKET_BYTES = 64
READINGS_PER_PACKET = 3
COUNTER_MODULUS = 1 << 16
SAMPLE_TYPE_MASK = 0x30


@dataclass(frozen=True, slots=True)
class MonsoonSettings:
    """What the user chose: the voltage the monitor supplies (never implied), which monitor,
    and the output rate (the 5 kHz readings are averaged in blocks of 5000 / rate_hz).

    Vout above `max_vout_v` (default 4.55 V, the most a single-cell phone battery input
    takes) is refused unless the user raises `max_vout_v` explicitly, up to the HVPM's 13.5 V.
    """

    vout_v: float
    serial: int | None = None
    rate_hz: float = DEFAULT_RATE_HZ
    max_vout_v: float = DEFAULT_MAX_VOUT_V

    def __post_init__(self) -> None:
        low, high = HVPM_VOUT_RANGE_V
        if not math.isfinite(self.max_vout_v) or not low <= self.max_vout_v <= high:
            raise MeltError(
                f"--monsoon-max-vout must be within the HVPM's {low}–{high} V output range "
                f"(got {self.max_vout_v})"
            )
        if not math.isfinite(self.vout_v) or not low <= self.vout_v <= high:
            raise MeltError(
                f"--monsoon-vout must be within the HVPM's {low}–{high} V output range "
                f"(got {self.vout_v})"
            )
        if self.vout_v > self.max_vout_v:
            raise MeltError(
                f"--monsoon-vout {self.vout_v} V is above {self.max_vout_v} V, the most a "
                "single-cell phone battery input takes (raise --monsoon-max-vout to allow it)"
            )
        if not 0 < self.rate_hz <= HARDWARE_RATE_HZ or not _divides(self.rate_hz):
            raise MeltError(
                f"--monsoon-rate must divide {HARDWARE_RATE_HZ} Hz, the monitor's sample rate "
                f"(e.g. 5000, 1000, 500; got {self.rate_hz})"
            )

    @property
    def block(self) -> int:
        """Readings per output sample."""
        return round(HARDWARE_RATE_HZ / self.rate_hz)


def _divides(rate_hz: float) -> bool:
    block = HARDWARE_RATE_HZ / rate_hz
    return abs(block - round(block)) < 1e-9


@dataclass(frozen=True, slots=True)
class MainCalibration:
    """The EEPROM constants of the main channel, read when sampling starts."""

    fine_scale: float
    coarse_scale: float
    fine_zero_offset: float
    coarse_zero_offset: float
    fine_threshold: int
    volts_per_count: float


@dataclass(slots=True)
class StreamStats:
    """What the stream reported: its ticks on the monitor's clock and how USB kept up."""

    anchor_ns: int = 0
    anchor_uncertainty_ns: int = 0
    packets: int = 0
    bad_packets: int = 0
    ticks: int = 0
    measurements: int = 0
    calibration_readings: int = 0
    uncalibrated_readings: int = 0
    dropped: int = 0
    first_lag_ns: int | None = None
    last_lag_ns: int | None = None
    min_lag_ns: int | None = None
    max_lag_ns: int | None = None
    first_arrival_ns: int | None = None
    last_arrival_ns: int | None = None
    tail_short_ns: int | None = None  # how far before the stop request the stream ended

    @property
    def clock_ns(self) -> int:
        """The monitor-clock time of the last tick decoded so far."""
        return self.anchor_ns + self.ticks * TICK_NS

    def lag(self, arrival_ns: int) -> None:
        """USB delivery time of a packet minus the monitor-clock time of its last tick."""
        lag = arrival_ns - self.clock_ns
        if self.first_lag_ns is None:
            self.first_lag_ns, self.first_arrival_ns = lag, arrival_ns
        self.last_lag_ns, self.last_arrival_ns = lag, arrival_ns
        self.min_lag_ns = lag if self.min_lag_ns is None else min(self.min_lag_ns, lag)
        self.max_lag_ns = lag if self.max_lag_ns is None else max(self.max_lag_ns, lag)

    @property
    def drift_ppm(self) -> float | None:
        """Change of the delivery lag per second of run, in ppm; USB jitter included."""
        if self.first_arrival_ns is None or self.last_arrival_ns is None:
            return None
        span = self.last_arrival_ns - self.first_arrival_ns
        if span <= 0 or self.first_lag_ns is None or self.last_lag_ns is None:
            return None
        return (self.last_lag_ns - self.first_lag_ns) / span * 1e6

    def as_dict(self) -> dict[str, Any]:
        def ms(ns: int | None) -> float | None:
            return None if ns is None else ns / 1e6

        return {
            "anchor_ns": self.anchor_ns,
            "anchor_uncertainty_ns": self.anchor_uncertainty_ns,
            "packets": self.packets,
            "bad_packets": self.bad_packets,
            "ticks": self.ticks,
            "measurements": self.measurements,
            "calibration_readings": self.calibration_readings,
            "uncalibrated_readings": self.uncalibrated_readings,
            "dropped_samples": self.dropped,
            "usb_lag_ms": {
                "first": ms(self.first_lag_ns),
                "last": ms(self.last_lag_ns),
                "min": ms(self.min_lag_ns),
                "max": ms(self.max_lag_ns),
            },
            "drift_ppm": self.drift_ppm,
            "tail_short_ms": ms(self.tail_short_ns),
        }


class HvpmStream:
    """Turns the monitor's packets into samples on its own clock (no I/O, no threads).

    `swizzle` is `HVPM.Monsoon.swizzlePacket`; `calibration_data` is a
    `calibrationData.calibrationData()` from the package; `sample_types` is
    `Operations.SampleType`.
    """

    def __init__(
        self,
        probe: str,
        constants: MainCalibration,
        swizzle: Callable[[Any], list[int]],
        calibration_data: Any,
        sample_types: Any,
        anchor_ns: int,
        block: int,
    ) -> None:
        self.probe = probe
        self.constants = constants
        self.swizzle = swizzle
        self.cal = calibration_data
        self.types = sample_types
        self.block = block
        self.stats = StreamStats(anchor_ns=anchor_ns)
        self._counter: int | None = None
        self._open_block: int | None = None
        self._sum_tick = 0
        self._sum_w = 0.0
        self._sum_a = 0.0
        self._sum_v = 0.0
        self._n = 0

    def feed(self, data: Any, arrival_ns: int) -> list[Sample]:
        """Samples completed by the packets in `data` (one or more 64-byte packets)."""
        out: list[Sample] = []
        for start in range(0, len(data), PACKET_BYTES):
            chunk = data[start : start + PACKET_BYTES]
            if len(chunk) < PACKET_BYTES:
                self.stats.bad_packets += 1
                continue
            self._packet(chunk, out)
        self.stats.lag(arrival_ns)
        return out

    def flush(self) -> list[Sample]:
        """The last, possibly partial, output interval (at the end of the stream)."""
        out: list[Sample] = []
        self._emit(out)
        return out

    def _packet(self, raw: Any, out: list[Sample]) -> None:
        values = self.swizzle(raw)
        counter, count = values[0], values[2]
        if not 1 <= count <= READINGS_PER_PACKET:
            self.stats.bad_packets += 1
            return
        self.stats.packets += 1
        started = self.stats.measurements + self.stats.uncalibrated_readings > 0
        if self._counter is not None and started:
            dropped = (counter - self._counter) % COUNTER_MODULUS
            self.stats.dropped += dropped
            self.stats.ticks += dropped
        self._counter = counter
        for r in range(count):
            reading = values[3 + 10 * r : 13 + 10 * r]
            kind = reading[8] & SAMPLE_TYPE_MASK
            tick = self.stats.ticks
            self.stats.ticks += 1
            if kind == self.types.ZeroCal:
                self.stats.calibration_readings += 1
                self.cal.addZeroCal(reading[0], True)
                self.cal.addZeroCal(reading[1], False)
            elif kind == self.types.refCal:
                self.stats.calibration_readings += 1
                self.cal.addRefCal(reading[0], True)
                self.cal.addRefCal(reading[1], False)
            elif kind == self.types.Measurement:
                if not self.cal.calibrated():
                    self.stats.uncalibrated_readings += 1
                    continue
                self.stats.measurements += 1
                self._add(tick, self._amps(reading[0], reading[1]), out, reading[6])

    def _amps(self, coarse: int, fine: int) -> float:
        """sampleEngine's formula: counts above the zero level × scale / (RefCal − zero)."""
        c = self.constants
        if fine < c.fine_threshold:
            zero = c.fine_zero_offset + self.cal.getZeroCal(False)
            span = self.cal.getRefCal(False) - zero
            milliamps = (fine - zero) * c.fine_scale / span / 1000 if span else 0.0
        else:
            zero = c.coarse_zero_offset + self.cal.getZeroCal(True)
            span = self.cal.getRefCal(True) - zero
            milliamps = (coarse - zero) * c.coarse_scale / span if span else 0.0
        return milliamps / 1000

    def _add(self, tick: int, amps: float, out: list[Sample], volt_counts: int) -> None:
        block = tick // self.block
        if self._open_block is not None and block != self._open_block:
            self._emit(out)
        self._open_block = block
        volts = volt_counts * self.constants.volts_per_count
        self._sum_tick += tick
        self._sum_w += volts * amps
        self._sum_a += amps
        self._sum_v += volts
        self._n += 1

    def _emit(self, out: list[Sample]) -> None:
        n = self._n
        if n == 0:
            return
        t_ns = self.stats.anchor_ns + round(self._sum_tick * TICK_NS / n)
        out.append(Sample(t_ns, self.probe, "power", self._sum_w / n, "W"))
        out.append(Sample(t_ns, self.probe, "current", self._sum_a / n, "A"))
        out.append(Sample(t_ns, self.probe, "voltage", self._sum_v / n, "V"))
        self._sum_tick, self._sum_w, self._sum_a, self._sum_v, self._n = 0, 0.0, 0.0, 0.0, 0


ProtocolFactory = Callable[[], Any]


@register_probe("monsoon")
class MonsoonProbe:
    """Main-channel power of a Monsoon HVPM. `available()` finds and connects to the monitor
    and, when settings are given, sets Vout (the device runs on it from then on); `start()`
    and `stop()` bracket a sampling run (the sampler calls them) while a reader thread
    collects packets; `read()` drains the samples decoded since the last read.

    `protocol_factory` builds the `pmapi.USB_protocol` (the default) or a stand-in; `root` is
    unused: the monitor is on USB, not in sysfs."""

    name = "monsoon"
    policy = ProbePolicy("power", power_rank=0, runs_on="controller")

    def __init__(
        self,
        root: Path = Path("/"),
        settings: MonsoonSettings | None = None,
        protocol_factory: ProtocolFactory | None = None,
    ) -> None:
        self.settings = settings
        self._protocol_factory = protocol_factory
        self._availability: Availability | None = None
        self._monsoon: Any = None
        self._serial: str | None = None
        self._stream: HvpmStream | None = None
        self._thread: threading.Thread | None = None
        self._drain_until_ns: int | None = None
        self._lock = threading.Lock()
        self._out: list[Sample] = []
        self._error: str | None = None
        self._status: dict[str, Any] = {}

    def available(self) -> Availability:
        if self._availability is None or not self._availability.ok:
            self._availability = self._connect()
        return self._availability

    def _connect(self) -> Availability:
        try:
            import usb.core
            from Monsoon import HVPM, pmapi
            from Monsoon import Operations as op
        except ImportError:
            return Availability.absent(f"the monsoon package is not installed ({INSTALL_HINT})")
        protocol = (self._protocol_factory or pmapi.USB_protocol)()
        try:
            serials = [str(s) for s in protocol.enumerateDevices()]
        except usb.core.NoBackendError:
            return Availability.absent(
                "pyusb found no libusb backend to look for a Monsoon (install libusb-1.0)"
            )
        except usb.core.USBError as exc:
            return Availability.absent(f"cannot list USB devices: {exc}")
        if not serials:
            return Availability.absent(
                "no Monsoon power monitor on USB (vendor 0x2AB9, product 0x0001)"
            )
        settings = self.settings
        if settings is None:
            return Availability.absent(
                f"Monsoon {', '.join(serials)} on USB, not configured (pass --monsoon-vout "
                "VOLTS, the voltage it supplies to the device)"
            )
        if settings.serial is not None:
            serial = str(settings.serial)
            if serial not in serials:
                return Availability.absent(
                    f"Monsoon serial {serial} is not on USB (found: {', '.join(serials)})"
                )
        elif len(serials) > 1:
            return Availability.absent(
                f"several Monsoons on USB ({', '.join(serials)}): pass --monsoon-serial"
            )
        else:
            serial = serials[0]
        monsoon = HVPM.Monsoon()
        try:
            with _logged_stdout():
                monsoon.setup_usb(int(serial), protocol)
            if protocol.DEVICE is None:
                return Availability.absent(f"Monsoon serial {serial} could not be opened")
            model = protocol.getValue(op.OpCodes.HardwareModel, 2)
            if model != op.HardwareModel.HVPM:
                return Availability.absent(
                    f"Monsoon serial {serial} reports hardware model {model}, not an HVPM "
                    f"({op.HardwareModel.HVPM}); melt reads the HVPM only"
                )
            monsoon.setVout(settings.vout_v)
        except ValueError as exc:
            return Availability.absent(f"Monsoon serial {serial} refused Vout: {exc}")
        except usb.core.USBError as exc:
            return Availability.absent(f"Monsoon serial {serial}: USB error: {exc}")
        self._monsoon, self._serial = monsoon, serial
        return Availability.found(
            f"Monsoon HVPM serial {serial} supplying {settings.vout_v} V on its main channel"
        )

    def info(self) -> ProbeInfo:
        settings = self.settings
        facts: dict[str, Any] = {
            "serial": self._serial,
            "hardware_rate_hz": HARDWARE_RATE_HZ,
            "rate_hz": None if settings is None else settings.rate_hz,
            "vout_v": None if settings is None else settings.vout_v,
            "timestamps": "monitor clock: anchor + tick × 200 µs (ticks include dropped)",
            **self._status,
        }
        if self._stream is not None:
            facts.update(self._stream.stats.as_dict())
        return ProbeInfo(
            name=self.name,
            signal="device power",
            unit="W",
            provenance=Provenance.MEASURED,
            source=f"Monsoon HVPM {self._serial or '(not connected)'} main channel, V × I",
            resolution=self._resolution(),
            max_rate_hz=float(HARDWARE_RATE_HZ),
            facts=facts,
            **self.policy.info_fields(),
        )

    def _resolution(self) -> str:
        stream = self._stream
        text = "voltage 250 µV (62.5 µV ADC × 4)"
        if stream is None or not stream.cal.calibrated():
            return f"{text}; current from the calibration (after the first readings)"
        c, cal = stream.constants, stream.cal
        fine = c.fine_scale / (cal.getRefCal(False) - c.fine_zero_offset - cal.getZeroCal(False))
        coarse = c.coarse_scale / (
            cal.getRefCal(True) - c.coarse_zero_offset - cal.getZeroCal(True)
        )
        return f"{text}; current {fine:.3g} µA fine, {coarse:.3g} mA coarse"

    def start(self) -> None:
        """Put the monitor in sample mode and start the reader thread."""
        monsoon = self._monsoon
        if monsoon is None or self.settings is None:
            raise ProbeReadError("the Monsoon was not connected (available() first)")
        if self._thread is not None:
            raise ProbeReadError("the Monsoon is already sampling")
        import usb.core
        from Monsoon import Operations as op
        from Monsoon.calibrationData import calibrationData

        try:
            monsoon.stopSampling()  # a monitor left in sample mode refuses to start again
            monsoon.fillStatusPacket()
            status = monsoon.statusPacket
            constants = MainCalibration(
                fine_scale=float(status.mainFineScale),
                coarse_scale=float(status.mainCoarseScale),
                fine_zero_offset=float(status.mainFineZeroOffset),
                coarse_zero_offset=float(status.mainCoarseZeroOffset),
                fine_threshold=int(monsoon.fineThreshold),
                volts_per_count=float(monsoon.ADCRatio * monsoon.mainvoltageScale),
            )
            self._status = {
                "firmware": int(status.firmwareVersion),
                "protocol": int(status.protocolVersion),
            }
            before = time.monotonic_ns()
            monsoon.Protocol.startSampling(CAL_TIME_MS, 0xFFFFFFFF)
            after = time.monotonic_ns()
        except (usb.core.USBError, ValueError) as exc:
            raise ProbeReadError(f"the Monsoon did not start sampling: {exc}") from None
        self._stream = HvpmStream(
            self.name,
            constants,
            monsoon.swizzlePacket,
            calibrationData(),
            op.SampleType,
            anchor_ns=(before + after) // 2,
            block=self.settings.block,
        )
        self._stream.stats.anchor_uncertainty_ns = after - before
        self._error = None
        self._drain_until_ns = None
        self._thread = threading.Thread(target=self._collect, name="melt-monsoon", daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        """Read packets until `stop()` asks, then on until the monitor's clock reaches the
        moment it asked: a reader behind a busy CPU still has that tail in USB's buffers,
        and the run's last window needs it. A drain that finds nothing more buffered, or
        lasts over `DRAIN_LIMIT_S`, ends there and says how short it fell."""
        import usb.core

        stream = self._stream
        assert stream is not None
        while True:
            until = self._drain_until_ns
            if until is not None and (
                stream.stats.clock_ns >= until or time.monotonic_ns() - until > DRAIN_LIMIT_S * 1e9
            ):
                break
            try:
                data = self._monsoon.BulkRead()
            except usb.core.USBTimeoutError:
                if until is not None:
                    break  # nothing left in the buffers
                continue
            except usb.core.USBError as exc:
                self._error = f"the Monsoon stream stopped: USB error: {exc}"
                return
            samples = stream.feed(data, time.monotonic_ns())
            if samples:
                with self._lock:
                    self._out.extend(samples)
        short_ns = (self._drain_until_ns or 0) - stream.stats.clock_ns
        if short_ns > 0:
            stream.stats.tail_short_ns = short_ns
            log.warning(
                "the Monsoon stream ended %.3f s before sampling was stopped", short_ns / 1e9
            )

    def stop(self) -> None:
        """Drain what the monitor measured up to now, leave sample mode, end the reader
        thread and keep the last partial interval."""
        thread = self._thread
        if thread is None:
            return
        import usb.core

        self._drain_until_ns = time.monotonic_ns()
        thread.join()
        try:
            self._monsoon.stopSampling()
        except (usb.core.USBError, ValueError) as exc:
            log.warning("Monsoon stop sampling failed: %s", exc)
        self._thread = None
        assert self._stream is not None
        tail = self._stream.flush()
        with self._lock:
            self._out.extend(tail)

    def read(self, t_ns: int) -> list[Sample]:
        """Everything decoded since the last read, stamped on the monitor's clock."""
        with self._lock:
            out, self._out = self._out, []
        if out:
            return out
        if self._error is not None:
            raise ProbeReadError(self._error)
        if self._stream is None:
            raise ProbeReadError("the Monsoon is not sampling (the sampler starts it)")
        return out


@contextlib.contextmanager
def _logged_stdout() -> Iterator[None]:
    """The package prints warnings (firmware revision, model mismatch); log them instead."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    for line in buffer.getvalue().splitlines():
        if line.strip():
            log.warning("monsoon: %s", line.strip())
