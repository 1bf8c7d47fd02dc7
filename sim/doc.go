// Package sim simulates producers for strmlocal (docs/sim.md): generators that
// make realistic events for the built-in catalogue, and a driver that paces
// them and sends them through the public API, as any client would.
//
// # Generators
//
// A Generator is a deterministic function of Config.Seed and Config.Clock:
// the same seed and the same clock readings give byte-identical event
// bodies, in the same order. Generators keep state (web-shop sessions walking
// a funnel, machines with drifting sensors) and encode each event once, in
// the schema's own serialization: Avro binary with hamba/avro against the
// definition the server returns from SchemaService.GetSchema, or JSON for
// JSON Schema. Three exist:
//
//   - demo: the original CLI simulator's random demo events (sessions
//     session-<n>, consent picked from a configurable list).
//   - clickstream: web-shop visitors as sessions through a funnel (landing,
//     category, products, cart, login, checkout, purchase) with drop-off at
//     every step, a cookie-banner consent, consent changes mid-session and
//     erasure requests (Event.Forget) for customers who logged in.
//   - sensors: machines on sites with drifting temperature, vibration and
//     rpm, power cycles, spikes and dips, faulty sensors, and operators who
//     badge in and out; half the sites speak the Avro schema, half the JSON
//     Schema variant.
//
// With Config.InvalidRatio a generator replaces that fraction of its events
// by events that break one rule of the contract on purpose (Kind), and says
// which verdict the server must give (Event.Expect).
//
// # Driver
//
// Run takes events from one generator goroutine (so the sequence stays
// deterministic), groups them into batches per schema and serialization,
// and hands the batches to a few concurrent Senders: ConnectSender
// (EventService.SendEvents, 256 events per call) or HTTPSender (the
// STRM-compatible POST /event, one event per request). It paces by rate,
// stops after a count or a duration, runs erasure requests through a
// Forgetter (KeyService.ForgetDataSubject) once every event before them is
// acknowledged, and tallies what the server answered against what each
// event expected (Summary). Nothing here reaches into the server: only the
// public API is used.
package sim
