package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	sensorSchema       = "strmlocal/sensor/1.0.0"
	sensorContract     = "strmlocal/sensor/1.0.0"
	sensorJSONSchema   = "strmlocal/sensor-json/1.0.0"
	sensorJSONContract = "strmlocal/sensor-json/1.0.0"
)

// sensorReading is the SensorReading record of strmlocal/sensor/1.0.0
// (and, field for field, of the JSON Schema variant).
type sensorReading struct {
	StrmMeta      strmMeta `avro:"strmMeta" json:"strmMeta"`
	MachineID     string   `avro:"machineId" json:"machineId"`
	SiteID        string   `avro:"siteId" json:"siteId"`
	OperatorBadge *string  `avro:"operatorBadge" json:"operatorBadge"`
	MeasuredAt    int64    `avro:"measuredAt" json:"measuredAt"`
	Temperature   float64  `avro:"temperatureCelsius" json:"temperatureCelsius"`
	Vibration     float64  `avro:"vibrationMmPerS" json:"vibrationMmPerS"`
	RPM           int32    `avro:"rpm" json:"rpm"`
	PowerState    string   `avro:"powerState" json:"powerState"`
	ReadingStatus string   `avro:"readingStatus" json:"readingStatus"`
}

// Sites are plant codes with a hall number. Machines on even-numbered
// sites report with the Avro schema, on odd-numbered ones with the JSON
// Schema variant (older controllers that speak JSON).
var sites = []string{"AMS-01", "EIN-02", "RTM-01", "AMS-02", "BER-01", "EIN-01"}

// Machine kinds with their working temperature (°C), spindle speed and
// vibration (mm/s) when healthy.
var machineKinds = []struct {
	temp, rpm, vib float64
}{
	{58, 3000, 1.8}, // CNC mill
	{52, 1800, 2.4}, // lathe
	{66, 1450, 3.5}, // hydraulic press pump
	{45, 900, 1.1},  // conveyor drive
}

const (
	ambient = 21.0
	// Above these a reading is OUT_OF_RANGE (the vibration limit is ISO
	// 10816's zone D for medium machines).
	maxTemp = 95.0
	maxVib  = 11.2
	// operators is the size of each site's pool of badges.
	operators = 12
)

type machine struct {
	id, site  string
	json      bool
	temp, rpm float64 // healthy working temperature and speed
	vib       float64
	drift     float64 // °C of wear accumulated so far
	driftRate float64 // °C of wear per running reading
	faulty    bool    // its temperature sensor is failing
	cur       float64 // current temperature
	power     string
	left      int     // readings until the next power transition
	justOn    bool    // the first reading after power-on is a calibration
	spike     int     // readings left in a spike or dip
	spikeBy   float64 // °C the spike adds (negative for a dip)
	operator  int     // index into the site's badges; -1 unattended
}

// operator is a person who badges in at machines of one site.
type operator struct {
	badge   string
	consent []int32 // [0, 1]: agreed to be identified in machine data
}

// sensors runs machines. Each event is the next machine's reading, round
// robin, so every machine reports once per cycle; readings carry slow
// drift, noise, spikes and dips, power cycles (OFF, STANDBY, RUNNING, and
// now and then FAULT), outliers from faulty sensors, and the badge of the
// operator at the machine, if any (PII, level 1).
type sensors struct {
	r         *rand.Rand
	ratio     float64
	clock     func() time.Time
	avro      *avroCodec
	machines  []machine
	operators [][]operator // per site
	next      int
	rd        sensorReading
	scratch   []int32
}

func newSensors(cfg Config, definitions map[string]string) (*sensors, error) {
	if cfg.Sessions == 0 {
		cfg.Sessions = 20
	}
	r := newRand(cfg.Seed)
	g := &sensors{r: r, ratio: cfg.InvalidRatio, clock: cfg.Clock, machines: make([]machine, cfg.Sessions)}
	for range sites {
		var ops []operator
		for range operators {
			o := operator{badge: "B" + strconv.Itoa(100000+r.IntN(900000)), consent: []int32{0, 1}}
			if r.IntN(5) == 0 {
				o.consent = []int32{0}
			}
			ops = append(ops, o)
		}
		g.operators = append(g.operators, ops)
	}
	for i := range g.machines {
		site := r.IntN(len(sites))
		k := machineKinds[r.IntN(len(machineKinds))]
		g.machines[i] = machine{
			id:        "MCH-" + strconv.Itoa(100000 + i + 1)[1:],
			site:      sites[site],
			json:      site%2 == 1,
			temp:      k.temp + r.NormFloat64()*3,
			rpm:       math.Round(k.rpm * (0.9 + 0.2*r.Float64())),
			vib:       k.vib * (0.8 + 0.4*r.Float64()),
			driftRate: 0.002 + 0.01*r.Float64(),
			faulty:    r.IntN(8) == 0,
			cur:       ambient,
			power:     "OFF",
			left:      r.IntN(10),
			operator:  -1,
		}
	}
	// At least one failing sensor, so that every run shows some.
	if !slices.ContainsFunc(g.machines, func(m machine) bool { return m.faulty }) {
		g.machines[r.IntN(len(g.machines))].faulty = true
	}
	var err error
	g.avro, err = newAvroCodec(sensorSchema, definitions, &sensorReading{
		StrmMeta: strmMeta{EventContractRef: sensorContract}, PowerState: "OFF", ReadingStatus: "OK"})
	return g, err
}

func (g *sensors) Next(e *Event) error {
	kind := pickInvalid(g.r, g.ratio)
	m := &g.machines[g.next]
	g.next = (g.next + 1) % len(g.machines)
	g.read(m)
	schema, contract := sensorSchema, sensorContract
	if m.json {
		schema, contract = sensorJSONSchema, sensorJSONContract
	}
	g.rd.StrmMeta.EventContractRef = contract
	*e = Event{Schema: schema, JSON: m.json, Body: e.Body[:0], Invalid: kind}
	omitMachine := false
	switch kind {
	case BadRegex:
		g.rd.SiteID = strings.ToLower(g.rd.SiteID)
		e.Expect = Verdict{Rule: "regex", Field: "siteId"}
	case EmptyKey:
		// Avro always has the field: empty, which fails the contract's
		// regex on it before the key-field check. JSON can leave it out,
		// which the JSON Schema refuses (a missing required property is
		// reported at its parent: here the event itself, no field).
		g.rd.MachineID = ""
		e.Expect = Verdict{Rule: "regex", Field: "machineId"}
		if m.json {
			omitMachine = true
			e.Expect = Verdict{Rule: "decode"}
		}
	case WrongType:
		e.JSON = true
		e.Expect = Verdict{Rule: "decode", Field: "rpm"}
		if !m.json {
			var err error
			e.Body, err = wrongTypeJSON(e.Body, &g.rd, "rpm", "fast")
			return err
		}
	case UnknownContract:
		g.rd.StrmMeta.EventContractRef = unknownContractRef
		e.Expect = expectUnknownContract
	case BadConsent:
		g.scratch = withBadConsent(g.scratch, g.rd.StrmMeta.ConsentLevels)
		g.rd.StrmMeta.ConsentLevels = g.scratch
		e.Expect = expectBadConsent
		if m.json {
			// The JSON Schema itself says levels are >= 0.
			e.Expect = Verdict{Rule: "decode", Field: "strmMeta/consentLevels/" + strconv.Itoa(len(g.scratch)-1)}
		}
	}
	if m.json {
		e.Body = appendReadingJSON(e.Body, &g.rd, omitMachine, kind == WrongType)
		return nil
	}
	var err error
	e.Body, err = g.avro.encode(e.Body, &g.rd)
	return err
}

// read advances m by one reading and puts it in g.rd.
func (g *sensors) read(m *machine) {
	r := g.r
	g.power(m)
	status := "OK"
	if m.justOn {
		status, m.justOn = "CALIBRATING", false
	}

	// Temperature moves a fifth of the way to where the machine's state
	// takes it, plus noise; wear drifts it up while running.
	target := ambient
	switch m.power {
	case "STANDBY":
		target = ambient + 8
	case "RUNNING":
		target = m.temp + m.drift
		m.drift += m.driftRate
	case "FAULT":
		target = m.temp + m.drift + 18
	}
	m.cur += (target-m.cur)*0.2 + r.NormFloat64()*0.3
	temp := m.cur

	var rpm, vib float64
	switch m.power {
	case "RUNNING":
		rpm = m.rpm * (1 + r.NormFloat64()*0.02)
		vib = m.vib*rpm/m.rpm + r.NormFloat64()*0.15
		// Spikes (overload) and dips (coolant surge) last a few readings.
		if m.spike == 0 {
			switch n := r.IntN(200); {
			case n < 2:
				m.spike, m.spikeBy = 1+r.IntN(3), 8+12*r.Float64()
			case n < 4:
				m.spike, m.spikeBy = 1+r.IntN(3), -5-7*r.Float64()
			}
		}
		if m.spike > 0 {
			m.spike--
			temp += m.spikeBy
			if m.spikeBy > 0 {
				vib *= 3
			}
		}
	case "STANDBY":
		vib = 0.2 + r.Float64()*0.1
	case "FAULT":
		vib = m.vib * (4 + 2*r.Float64())
	default:
		vib = r.Float64() * 0.05
	}
	vib = max(vib, 0)
	if status == "OK" && (temp > maxTemp || vib > maxVib) {
		status = "OUT_OF_RANGE"
	}
	// A failing sensor now and then reads nonsense, and says so.
	if m.faulty && r.IntN(8) == 0 {
		temp, status = []float64{-273.1, 850, 0}[r.IntN(3)], "SENSOR_FAULT"
	}

	// Operators badge in at unattended machines and out again.
	ops := g.operators[siteIndex(m.site)]
	if m.operator < 0 {
		if r.IntN(30) == 0 {
			m.operator = r.IntN(len(ops))
		}
	} else if r.IntN(80) == 0 {
		m.operator = -1
	}
	g.rd = sensorReading{
		StrmMeta:      strmMeta{ConsentLevels: consentAnalytical},
		MachineID:     m.id,
		SiteID:        m.site,
		MeasuredAt:    g.clock().UnixMilli(),
		Temperature:   math.Round(temp*10) / 10,
		Vibration:     math.Round(vib*100) / 100,
		RPM:           int32(math.Round(rpm)),
		PowerState:    m.power,
		ReadingStatus: status,
	}
	if m.operator >= 0 {
		o := &ops[m.operator]
		g.rd.OperatorBadge, g.rd.StrmMeta.ConsentLevels = &o.badge, o.consent
	}
}

// power moves m through its power cycle: OFF → STANDBY → RUNNING → STANDBY
// → OFF, with the odd FAULT (which ends in OFF).
func (g *sensors) power(m *machine) {
	r := g.r
	if m.power == "RUNNING" && r.IntN(500) == 0 {
		m.power, m.left = "FAULT", 3+r.IntN(8)
		return
	}
	if m.left > 0 {
		m.left--
		return
	}
	switch m.power {
	case "OFF":
		m.power, m.left, m.justOn = "STANDBY", 2+r.IntN(4), true
	case "STANDBY":
		if m.rpm > 0 && r.IntN(3) > 0 {
			m.power, m.left = "RUNNING", 30+r.IntN(170)
		} else {
			m.power, m.left = "OFF", 5+r.IntN(15)
		}
	case "RUNNING":
		m.power, m.left = "STANDBY", 2+r.IntN(4)
	case "FAULT":
		m.power, m.left = "OFF", 5+r.IntN(15)
		m.drift /= 2 // repaired
	}
}

func siteIndex(site string) int {
	for i, s := range sites {
		if s == site {
			return i
		}
	}
	return 0
}

// appendReadingJSON writes a reading as JSON for the JSON Schema variant,
// without reflection: the values are ids, enums and numbers, so only the
// contract ref and the ids need quoting.
func appendReadingJSON(b []byte, rd *sensorReading, omitMachine, wrongRPM bool) []byte {
	b = append(b, `{"strmMeta":{"eventContractRef":`...)
	b = strconv.AppendQuote(b, rd.StrmMeta.EventContractRef)
	b = append(b, `,"consentLevels":[`...)
	for i, l := range rd.StrmMeta.ConsentLevels {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(l), 10)
	}
	b = append(b, "]}"...)
	if !omitMachine {
		b = append(b, `,"machineId":`...)
		b = strconv.AppendQuote(b, rd.MachineID)
	}
	b = append(b, `,"siteId":`...)
	b = strconv.AppendQuote(b, rd.SiteID)
	b = append(b, `,"operatorBadge":`...)
	if rd.OperatorBadge == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendQuote(b, *rd.OperatorBadge)
	}
	b = append(b, `,"measuredAt":`...)
	b = strconv.AppendInt(b, rd.MeasuredAt, 10)
	b = append(b, `,"temperatureCelsius":`...)
	b = strconv.AppendFloat(b, rd.Temperature, 'f', -1, 64)
	b = append(b, `,"vibrationMmPerS":`...)
	b = strconv.AppendFloat(b, rd.Vibration, 'f', -1, 64)
	b = append(b, `,"rpm":`...)
	if wrongRPM {
		b = append(b, `"fast"`...)
	} else {
		b = strconv.AppendInt(b, int64(rd.RPM), 10)
	}
	b = append(b, `,"powerState":"`...)
	b = append(b, rd.PowerState...)
	b = append(b, `","readingStatus":"`...)
	b = append(b, rd.ReadingStatus...)
	return append(b, `"}`...)
}
