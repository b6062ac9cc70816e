"""The stored values every layer shares: area levels, source kinds, patrol kinds, statuses,
roles and the bits that flag a fix. The schema checks them; readers produce them; pages show
them through :func:`geo_patrol.render.i18n.term`."""

from __future__ import annotations

AREA_LEVELS = ("city", "district", "station", "community", "grid")
UPLOAD_KINDS = ("boundaries", "streets", "volunteers", "tracks", "hazards", "reports", "incidents",
                "live", "training")
PATROL_KINDS = ("patrol", "passive")
HAZARD_STATUSES = ("open", "rectified", "cleared")
REPORT_VERIFICATIONS = ("pending", "verified", "rejected", "merged")
#: A volunteer on a call-out's list: waiting for their ring, sent (called), then accepted or
#: declined, on the way, arrived. The states add up: accepted counts those on the way and
#: arrived, on the way counts the arrived.
CALLOUT_STATUSES = ("waiting", "sent", "accepted", "on_way", "arrived", "declined")
#: What a call-out is: one the command made, a volunteer's SOS, a volunteer not moving on
#: patrol.
CALLOUT_KINDS = ("callout", "sos", "still")
#: How a call-out ended (closed by the command).
CALLOUT_OUTCOMES = ("resolved", "false_alarm", "handed_over", "cancelled", "withdrawn")
#: The outcomes the command closes a call-out with ("withdrawn" is the volunteer's own, of
#: their SOS: "I am safe").
COMMAND_OUTCOMES = CALLOUT_OUTCOMES[:4]
#: Why a volunteer near an incident was not called.
LEFT_OUT_REASONS = ("too_far", "off_duty", "stale", "no_skill", "unreachable", "in_sos")
#: How a volunteer travels to an incident.
TRAVEL_MODES = ("walk", "ride", "drive")
#: A volunteer on the live map: on patrol (moving), at work (passive occupation), idle
#: (seen recently, not moving) or offline (not seen within the timeout).
LIVE_STATES = ("patrolling", "passive", "idle", "offline")
#: Skills a course certifies (a pass gives a certificate valid for the course's months).
CERT_SKILLS = ("patrol", "first_aid", "mediation", "law", "incident_response", "fire_safety",
               "hazmat_inspection", "weapons_inspection")
#: How a training session was held: in a room, online (live-streamed), shadowing on duty.
TRAINING_MODES = ("classroom", "online", "shadowing")
#: A volunteer's attendance of a session; only ``passed`` certifies.
ATTENDANCE_RESULTS = ("present", "absent", "passed")
#: A volunteer's standing in a skill: never certified, certificate expired, expiring soon,
#: current.
TRAINING_STANDINGS = ("untrained", "expired", "expiring", "current")
#: Classes of police incidents; property crime (侵财: theft, burglary, vehicle theft,
#: robbery, fraud) first, as campaigns aim at it.
CRIME_CLASSES = ("property", "violence", "dispute", "traffic", "public_order", "other")
ROLES = ("command", "officer", "planner", "volunteer", "admin")
#: How a message reaches a volunteer: an Apprise URL or a browser's Web Push.
NOTIFY_CHANNELS = ("apprise", "webpush")
#: A message's delivery states, in the order a delivery goes through them.
DELIVERY_STATES = ("queued", "sent", "delivered", "failed", "answered")
#: What a notice to the volunteers around a place is about.
NOTICE_KINDS = ("missing", "vehicle", "other")

#: ``patrol_fixes.flags`` bits.
FLAG_SPEED_JUMP = 1
FLAG_POOR_ACCURACY = 2
FLAG_DUPLICATE = 4
FLAG_OUT_OF_ORDER = 8
#: The phone said the position came from a mock-location app (live positions only).
FLAG_MOCK = 16
FLAG_NAMES = {FLAG_SPEED_JUMP: "speed_jump", FLAG_POOR_ACCURACY: "poor_accuracy",
              FLAG_DUPLICATE: "duplicate", FLAG_OUT_OF_ORDER: "out_of_order"}
