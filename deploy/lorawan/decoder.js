// trailcam LoRaWAN uplink decoder for The Things Stack / ChirpStack (v4 codec API):
//   decodeUplink({bytes: [...], fPort: n}) -> {data: {...}, warnings: [], errors: []}
// Layouts: README "LoRaWAN payloads" and firmware/uplink/payload.py. The tables below must match
// firmware/uplink/lora_codes.json (tests/test_payload_decoder.py checks they do).
// Ports are the firmware defaults (uplink.lora.*_port); change PORTS if the unit's config does.
// No payload carries coordinates: the unit's position is known from the deployment record.

var CLASSES = ["unknown", "amur_leopard", "tiger", "lynx", "leopard_cat", "deer", "wild_boar", "bear",
  "badger", "canid", "mustelid", "hare", "bird", "other_animal", "human", "vehicle", "blank"];
var EVENT_FLAGS = ["alert", "kept", "night", "clip", "motion_trigger", "interrupted"];
var HEALTH_FLAGS = ["low_battery", "disk_low", "camera_fault", "clock_unsynced"];
var PORTS = { event: 1, daily: 2, health: 3, ack: 4 };
var DAY0_MS = Date.UTC(2024, 0, 1);

function className(code) {
  return code < CLASSES.length ? CLASSES[code] : "unknown";
}

function flags(names, value) {
  var out = {};
  for (var i = 0; i < names.length; i++) out[names[i]] = ((value >> i) & 1) === 1;
  return out;
}

function u16(b, i) { return (b[i] << 8) | b[i + 1]; }

function dayDate(day) {
  return new Date(DAY0_MS + day * 86400000).toISOString().slice(0, 10);
}

function decodeEvent(b) {
  var dm = (b[2] << 16) | (b[3] << 8) | b[4];
  var day = dm >> 11;
  return {
    kind: "event", seq: u16(b, 0), day: day, date: dayDate(day), minute: dm & 0x7ff,
    class: className(b[5]), class_code: b[5], confidence: b[6] === 255 ? null : b[6],
    count: b[7], flags: flags(EVENT_FLAGS, b[8]), duration_s: b[9]
  };
}

function decodeDaily(b) {
  var day = u16(b, 0);
  return {
    kind: "daily", day: day, date: dayDate(day), triggers: u16(b, 2), discarded: u16(b, 4),
    kept: b[6], leopards: b[7], folded: b[8], top_class: className(b[9]), top_class_code: b[9],
    top_count: b[10]
  };
}

function decodeHealth(b) {
  var mv = u16(b, 0);
  var t = b[2] > 127 ? b[2] - 256 : b[2];
  return {
    kind: "health", battery_mv: mv === 0 ? null : mv, temperature_c: t === -128 ? null : t,
    disk_free_pct: b[3] === 255 ? null : b[3], queue_depth: u16(b, 4), uptime_h: u16(b, 6),
    flags: flags(HEALTH_FLAGS, b[8])
  };
}

function decodeAck(b) {
  return { kind: "ack", accepted: b[0] === 1, first_refused_code: b[1] };
}

var LAYOUTS = [
  [PORTS.event, 10, decodeEvent],
  [PORTS.daily, 11, decodeDaily],
  [PORTS.health, 9, decodeHealth],
  [PORTS.ack, 2, decodeAck]
];

function decodeUplink(input) {
  var bytes = input.bytes || [];
  for (var i = 0; i < LAYOUTS.length; i++) {
    var l = LAYOUTS[i];
    if (input.fPort === l[0]) {
      if (bytes.length !== l[1]) {
        return { errors: ["port " + l[0] + " expects " + l[1] + " bytes, got " + bytes.length], warnings: [] };
      }
      return { data: l[2](bytes), warnings: [], errors: [] };
    }
  }
  return { errors: ["unknown fPort " + input.fPort], warnings: [] };
}

if (typeof module !== "undefined") {
  module.exports = { decodeUplink: decodeUplink, CLASSES: CLASSES, EVENT_FLAGS: EVENT_FLAGS, HEALTH_FLAGS: HEALTH_FLAGS, PORTS: PORTS };
}
