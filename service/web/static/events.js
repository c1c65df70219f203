// Event types: their words, and where and how the timeline draws them.

export const LANES = [
  { id: "contact", label: "Contacts" },
  { id: "request", label: "Requests" },
  { id: "refusal", label: "Refusals" },
  { id: "hotline", label: "Line tests" },
  { id: "statement", label: "Statements" },
];

export const EVENT_TYPES = {
  call_held: { word: "Call held", lane: "contact" },
  meeting_held: { word: "Meeting held", lane: "contact" },
  summons: { word: "Summons", lane: "contact" },
  hotline_use: { word: "Hotline used", lane: "contact" },
  call_requested: { word: "Call requested", lane: "request" },
  meeting_requested: { word: "Meeting requested", lane: "request" },
  call_refused: { word: "Call refused", lane: "refusal" },
  meeting_refused: { word: "Meeting refused", lane: "refusal" },
  hotline_test: { word: "Hotline tested", lane: "hotline" },
  statement: { word: "Statement", lane: "statement" },
};

export function typeInfo(type) {
  return EVENT_TYPES[type] || { word: type, lane: "statement" };
}
