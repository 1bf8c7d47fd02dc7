package sim

import (
	"encoding/hex"
	"math/rand/v2"
	"strconv"
)

const (
	clickSchema   = "streammachine/clickstream/1.0.0"
	clickContract = "streammachine/clickstream/1.0.0"
	shop          = "https://www.webshop.example"
	// anonymous is customer.id before a visitor logs in. The contract
	// requires a non-empty customer/id (regex ^.+$) in every event, so a
	// visitor who has not logged in needs a value that is not a person.
	anonymous = "anonymous"
)

// clickEvent is the ClickstreamEvent record of
// streammachine/clickstream/1.0.0.
type clickEvent struct {
	StrmMeta          strmMeta      `avro:"strmMeta" json:"strmMeta"`
	ProducerSessionID string        `avro:"producerSessionId" json:"producerSessionId"`
	URL               string        `avro:"url" json:"url"`
	EventType         string        `avro:"eventType" json:"eventType"`
	Referrer          string        `avro:"referrer" json:"referrer"`
	UserAgent         string        `avro:"userAgent" json:"userAgent"`
	Conversion        int32         `avro:"conversion" json:"conversion"`
	ABTests           []string      `avro:"abTests" json:"abTests"`
	Customer          clickCustomer `avro:"customer" json:"customer"`
}

type clickCustomer struct {
	ID string `avro:"id" json:"id"`
}

// The cookie banner's choices (as the STRM demo web shop mapped them):
// required cookies only, analytical, marketing.
var (
	consentNone       = []int32{}
	consentAnalytical = []int32{0}
	consentMarketing  = []int32{0, 1}
	bannerChoices     = [][]int32{consentNone, consentAnalytical, consentMarketing}
	// bannerWeights: most visitors accept everything, a quarter refuse.
	bannerWeights = []int{25, 20, 55}
)

// step is where a visitor is in the funnel: the page their next event is
// on.
type step uint8

const (
	stLanding step = iota
	stCategory
	stProduct
	stAddToCart
	stCart
	stLogin
	stCheckout
	stPurchase
	stGone // the session is over
)

// visitor is one web-shop session.
type visitor struct {
	session  string // producerSessionId
	next     step
	consent  []int32
	customer string // customer id once logged in; anonymous before
	agent    string
	abTests  []string
	referrer string // the page before this one: the referrer of the next event
	category int
	product  int
	events   int
	// afterLogin is the step a login leads to: browsing on, or checkout.
	afterLogin step
	// changeAt is the event at which the visitor revisits the cookie
	// banner and picks changeTo (0: never).
	changeAt int
	changeTo []int32
	// forget: a logged-in visitor who asks to be forgotten when the session
	// ends.
	forget bool
}

// clickstream runs web-shop visitors through a funnel. Config.Sessions
// visitors are on the site at once; each event advances one of them, picked
// at random, by one page, and a visitor who leaves (at any step, with the
// drop-off rates below) is replaced by a new one. Strings are built when a
// session starts or a customer logs in, never per event.
type clickstream struct {
	r                 *rand.Rand
	ratio             float64
	changes, forgets  float64
	codec             *avroCodec
	visitors          []visitor
	categories        []shopCategory
	customers         int          // customer numbers are drawn from [1, customers]
	forgotten         map[int]bool // customers who asked to be forgotten: their accounts are gone
	newCustomer       int          // the next number for a new account
	orders            int
	pendingForget     string
	ev                clickEvent
	scratch           []int32
	sessionBuf        [36]byte
	uaWeightsTotal    int
	entryWeightsTotal int
}

type shopCategory struct {
	page     string   // the category page
	sorted   string   // the same, sorted by price
	products []string // product pages
}

func newClickstream(cfg Config, definitions map[string]string) (*clickstream, error) {
	if cfg.Sessions == 0 {
		cfg.Sessions = 100
	}
	g := &clickstream{
		r:           newRand(cfg.Seed),
		ratio:       cfg.InvalidRatio,
		changes:     orDefault(cfg.ConsentChanges, 0.05),
		forgets:     orDefault(cfg.Forgets, 0.02),
		visitors:    make([]visitor, cfg.Sessions),
		customers:   cfg.Sessions * 20,
		forgotten:   map[int]bool{},
		newCustomer: cfg.Sessions*20 + 1,
	}
	g.categories = buildShop(g.r)
	for _, u := range userAgents {
		g.uaWeightsTotal += u.weight
	}
	for _, e := range entries {
		g.entryWeightsTotal += e.weight
	}
	for i := range g.visitors {
		g.visitors[i] = g.newVisitor()
	}
	var err error
	g.codec, err = newAvroCodec(clickSchema, definitions, &clickEvent{StrmMeta: strmMeta{EventContractRef: clickContract}})
	return g, err
}

// orDefault is v, or def for 0; negative means none.
func orDefault(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// buildShop makes the catalogue: eight categories of 24 products, with
// product slugs and article numbers drawn from r.
func buildShop(r *rand.Rand) []shopCategory {
	out := make([]shopCategory, len(shopCategories))
	for i, c := range shopCategories {
		page := shop + "/c/" + c.slug
		sc := shopCategory{page: page, sorted: page + "?sort=price-asc"}
		for _, adj := range productAdjectives {
			for _, noun := range c.nouns {
				sku := strconv.Itoa(10000 + r.IntN(90000))
				sc.products = append(sc.products, shop+"/p/"+c.slug+"/"+adj+"-"+noun+"-"+sku)
			}
		}
		out[i] = sc
	}
	return out
}

var shopCategories = []struct {
	slug  string
	nouns []string
}{
	{"womens-shoes", []string{"sneaker", "ankle-boot", "loafer"}},
	{"mens-shoes", []string{"runner", "chelsea-boot", "derby"}},
	{"jackets", []string{"parka", "rain-jacket", "bomber"}},
	{"jeans", []string{"slim-jeans", "straight-jeans", "mom-jeans"}},
	{"t-shirts", []string{"crew-tee", "v-neck-tee", "longsleeve"}},
	{"dresses", []string{"maxi-dress", "wrap-dress", "shirt-dress"}},
	{"bags", []string{"tote", "backpack", "crossbody"}},
	{"accessories", []string{"scarf", "beanie", "belt"}},
}

var productAdjectives = []string{"classic", "organic", "recycled", "essential", "urban", "vintage", "lightweight", "premium"}

// userAgents are common browsers, weighted roughly by market share.
var userAgents = []weighted{
	{30, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"},
	{25, "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"},
	{20, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"},
	{8, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"},
	{6, "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36"},
	{5, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"},
	{4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"},
	{2, "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"},
}

// entries are how visitors arrive: the referrer of their first page and
// that page. landing "" means a category or product page (from a search
// result), picked at random.
var entries = []entry{
	{30, "https://www.google.com/", ""},
	{12, "https://www.google.com/", shop + "/"},
	{15, "", shop + "/"},
	{5, "https://www.bing.com/", ""},
	{3, "https://duckduckgo.com/", ""},
	{8, "https://www.instagram.com/", shop + "/?utm_source=instagram&utm_medium=social&utm_campaign=new-arrivals"},
	{7, "https://www.facebook.com/", shop + "/sale?utm_source=facebook&utm_medium=paid-social&utm_campaign=summer-sale"},
	{4, "https://www.pinterest.com/", ""},
	{10, "", shop + "/?utm_source=newsletter&utm_medium=email&utm_campaign=weekly"},
	{6, "https://www.tiktok.com/", shop + "/sale"},
}

// abTests are every combination of the running experiments' variants;
// a visitor is assigned one combination for the whole session.
var abTests = func() [][]string {
	var out [][]string
	for _, button := range []string{"checkout-button:green", "checkout-button:orange"} {
		for _, banner := range []string{"free-shipping-banner:on", "free-shipping-banner:off"} {
			for _, recs := range []string{"recommendations:bestsellers", "recommendations:similar-items", "recommendations:none"} {
				out = append(out, []string{button, banner, recs})
			}
		}
	}
	return out
}()

// Event types, one per page kind.
const (
	evPageView      = "page_view"
	evCategoryView  = "category_view"
	evProductView   = "product_view"
	evAddToCart     = "add_to_cart"
	evViewCart      = "view_cart"
	evLogin         = "login"
	evCheckout      = "begin_checkout"
	evPurchase      = "purchase"
	evConsentUpdate = "consent_update"
)

// weighted is a string drawn with a weight.
type weighted struct {
	weight int
	s      string
}

// entry is a way to arrive at the shop, drawn with a weight.
type entry struct {
	weight   int
	referrer string
	landing  string
}

func (w weighted) w() int { return w.weight }
func (e entry) w() int    { return e.weight }

// pick draws one of items with their weights, which add up to total.
func pick[T interface{ w() int }](r *rand.Rand, items []T, total int) T {
	n := r.IntN(total)
	for _, it := range items {
		if n -= it.w(); n < 0 {
			return it
		}
	}
	return items[len(items)-1]
}

// newVisitor starts a session: a new session id, browser, experiments, and
// the cookie banner's choice.
func (g *clickstream) newVisitor() visitor {
	r := g.r
	var id [16]byte
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	// UUID-like, as browsers' session cookies look.
	b := g.sessionBuf[:0]
	for i, part := range [][2]int{{0, 4}, {4, 6}, {6, 8}, {8, 10}, {10, 16}} {
		if i > 0 {
			b = append(b, '-')
		}
		b = hex.AppendEncode(b, id[part[0]:part[1]])
	}
	v := visitor{
		session:  string(b),
		next:     stLanding,
		customer: anonymous,
		agent:    pick(r, userAgents, g.uaWeightsTotal).s,
		abTests:  abTests[r.IntN(len(abTests))],
		consent:  bannerChoices[pickWeight(r, bannerWeights)],
	}
	if g.changes > 0 && r.Float64() < g.changes {
		v.changeAt = 1 + r.IntN(4)
		// Another choice than the first one.
		c := pickWeight(r, bannerWeights[:2])
		if len(bannerChoices[c]) == len(v.consent) {
			c = 2
		}
		v.changeTo = bannerChoices[c]
	}
	v.forget = g.forgets > 0 && r.Float64() < g.forgets
	return v
}

// pickWeight returns an index into weights, drawn with those weights.
func pickWeight(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n -= w; n < 0 {
			return i
		}
	}
	return len(weights) - 1
}

func (g *clickstream) Next(e *Event) error {
	if g.pendingForget != "" {
		*e = Event{Forget: g.pendingForget, Body: e.Body[:0]}
		g.pendingForget = ""
		return nil
	}
	kind := pickInvalid(g.r, g.ratio)
	i := g.r.IntN(len(g.visitors))
	v := &g.visitors[i]
	g.page(v)
	if v.next == stGone {
		if v.forget && v.customer != anonymous {
			// The erasure request comes after the session's last event, so
			// the driver runs it once that event is stored.
			g.pendingForget = v.customer
			g.forgotten[customerNumber(v.customer)] = true
		}
		g.visitors[i] = g.newVisitor()
	}

	*e = Event{Schema: clickSchema, Body: e.Body[:0], Invalid: kind}
	switch kind {
	case BadRegex:
		if g.r.IntN(2) == 0 {
			g.ev.URL = "webshop/" + g.ev.EventType // no scheme
			e.Expect = Verdict{Rule: "regex", Field: "url"}
		} else {
			g.ev.Customer.ID = ""
			e.Expect = Verdict{Rule: "regex", Field: "customer/id"}
		}
	case EmptyKey:
		g.ev.ProducerSessionID = ""
		e.Expect = Verdict{Rule: "keyField", Field: "producerSessionId"}
	case WrongType:
		e.JSON = true
		e.Expect = Verdict{Rule: "decode", Field: "conversion"}
		var err error
		e.Body, err = wrongTypeJSON(e.Body, &g.ev, "conversion", "yes")
		return err
	case UnknownContract:
		g.ev.StrmMeta.EventContractRef = unknownContractRef
		e.Expect = expectUnknownContract
	case BadConsent:
		g.scratch = withBadConsent(g.scratch, g.ev.StrmMeta.ConsentLevels)
		g.ev.StrmMeta.ConsentLevels = g.scratch
		e.Expect = expectBadConsent
	}
	var err error
	e.Body, err = g.codec.encode(e.Body, &g.ev)
	return err
}

// page makes v's next event in g.ev and moves v along the funnel.
func (g *clickstream) page(v *visitor) {
	r := g.r
	v.events++
	g.ev = clickEvent{
		StrmMeta:          strmMeta{EventContractRef: clickContract, ConsentLevels: v.consent},
		ProducerSessionID: v.session,
		Referrer:          v.referrer,
		UserAgent:         v.agent,
		ABTests:           v.abTests,
		Customer:          clickCustomer{ID: v.customer},
	}
	if v.changeAt > 0 && v.events == v.changeAt+1 {
		// The visitor reopens the cookie settings on the page they are on;
		// this event and the rest of the session carry the new choice.
		v.consent = v.changeTo
		g.ev.StrmMeta.ConsentLevels = v.consent
		g.ev.URL, g.ev.EventType = v.referrer, evConsentUpdate
		return
	}
	cat := &g.categories[v.category]
	switch v.next {
	case stLanding:
		e := pick(r, entries, g.entryWeightsTotal)
		g.ev.Referrer = e.referrer
		v.category = r.IntN(len(g.categories))
		cat = &g.categories[v.category]
		switch {
		case e.landing != "":
			g.ev.URL, g.ev.EventType = e.landing, evPageView
		case r.IntN(2) == 0:
			g.ev.URL, g.ev.EventType = cat.page, evCategoryView
		default:
			v.product = r.IntN(len(cat.products))
			g.ev.URL, g.ev.EventType = cat.products[v.product], evProductView
		}
		// 35% bounce; a few returning customers log in first.
		v.next = choose(r, outcome{stGone, 35}, outcome{stLogin, 8}, outcome{stCategory, 30}, outcome{stProduct, 27})
		v.afterLogin = stCategory
	case stCategory:
		if r.IntN(4) == 0 {
			v.category = r.IntN(len(g.categories))
			cat = &g.categories[v.category]
		}
		g.ev.URL, g.ev.EventType = cat.page, evCategoryView
		if r.IntN(3) == 0 {
			g.ev.URL = cat.sorted
		}
		v.next = choose(r, outcome{stGone, 20}, outcome{stProduct, 80})
	case stProduct:
		v.product = r.IntN(len(cat.products))
		g.ev.URL, g.ev.EventType = cat.products[v.product], evProductView
		v.next = choose(r, outcome{stGone, 25}, outcome{stProduct, 30}, outcome{stCategory, 15}, outcome{stAddToCart, 30})
	case stAddToCart:
		g.ev.URL, g.ev.EventType = cat.products[v.product], evAddToCart
		v.next = choose(r, outcome{stGone, 15}, outcome{stProduct, 35}, outcome{stCart, 50})
	case stCart:
		g.ev.URL, g.ev.EventType = shop+"/cart", evViewCart
		v.next = choose(r, outcome{stGone, 25}, outcome{stProduct, 10}, outcome{stCheckout, 65})
		if v.next == stCheckout && v.customer == anonymous {
			v.next, v.afterLogin = stLogin, stCheckout
		}
	case stLogin:
		// The customer id appears from the login event on.
		v.customer = g.customer()
		g.ev.Customer.ID = v.customer
		g.ev.URL, g.ev.EventType = shop+"/account/login", evLogin
		if v.afterLogin == stCheckout {
			g.ev.URL = shop + "/account/login?return=%2Fcheckout"
		}
		v.next = choose(r, outcome{stGone, 10}, outcome{v.afterLogin, 90})
	case stCheckout:
		g.ev.URL, g.ev.EventType = shop+"/checkout", evCheckout
		v.next = choose(r, outcome{stGone, 30}, outcome{stPurchase, 70})
	case stPurchase:
		g.orders++
		g.ev.URL, g.ev.EventType = shop+"/checkout/confirmation?order="+strconv.Itoa(100000+g.orders), evPurchase
		g.ev.Conversion = 1
		v.next = stGone
	}
	v.referrer = g.ev.URL
}

// outcome is a step the funnel may take next, with its weight in percent.
type outcome struct {
	s step
	w int
}

// choose draws the next step from outcomes whose weights add up to 100:
// the drop-off rate is the weight of stGone.
func choose(r *rand.Rand, outcomes ...outcome) step {
	n := r.IntN(100)
	for _, o := range outcomes {
		if n -= o.w; n < 0 {
			return o.s
		}
	}
	return outcomes[len(outcomes)-1].s
}

// customer returns the id of a customer who logs in: an existing account,
// or a new one when the drawn account was erased.
func (g *clickstream) customer() string {
	n := 1 + g.r.IntN(g.customers)
	if g.forgotten[n] {
		n = g.newCustomer
		g.newCustomer++
	}
	return customerID(n)
}

func customerID(n int) string { return "customer-" + strconv.Itoa(n) }

func customerNumber(id string) int {
	n, _ := strconv.Atoi(id[len("customer-"):])
	return n
}
