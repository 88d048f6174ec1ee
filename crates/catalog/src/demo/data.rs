//! The demo's cities and hotels: real streets and neighbourhoods, invented hotels.

/// A city the demo (and the benchmark data set) puts hotels in.
#[derive(Debug, Clone, Copy)]
pub(super) struct City {
    pub name: &'static str,
    /// ISO 3166-1 alpha-2.
    pub country: &'static str,
    /// ISO 4217.
    pub currency: &'static str,
    pub timezone: &'static str,
    /// Roughly the historic centre, for scattering benchmark hotels.
    pub centre: (f64, f64),
    /// How expensive the city is relative to the average (1.0).
    pub price_factor: f64,
    /// Units of the local currency per euro, so prices look local.
    pub per_euro: f64,
    /// Smallest price step in major units (whole euros, tens of crowns).
    pub step: i64,
}

/// One hand-written demo hotel.
#[derive(Debug, Clone, Copy)]
pub(super) struct HotelSeed {
    /// Index into [`CITIES`].
    pub city: usize,
    pub name: &'static str,
    pub address: &'static str,
    pub location: (f64, f64),
    pub stars: u8,
    /// What the best rooms look out on, if anything worth naming.
    pub view: Option<&'static str>,
    pub description: &'static str,
}

/// The demo cities, in the order of `DEMO_CITIES`.
pub(super) const CITIES: &[City] = &[
    City {
        name: "Lisbon",
        country: "PT",
        currency: "EUR",
        timezone: "Europe/Lisbon",
        centre: (38.7110, -9.1390),
        price_factor: 1.0,
        per_euro: 1.0,
        step: 1,
    },
    City {
        name: "Porto",
        country: "PT",
        currency: "EUR",
        timezone: "Europe/Lisbon",
        centre: (41.1480, -8.6110),
        price_factor: 0.85,
        per_euro: 1.0,
        step: 1,
    },
    City {
        name: "Barcelona",
        country: "ES",
        currency: "EUR",
        timezone: "Europe/Madrid",
        centre: (41.3870, 2.1700),
        price_factor: 1.1,
        per_euro: 1.0,
        step: 1,
    },
    City {
        name: "Paris",
        country: "FR",
        currency: "EUR",
        timezone: "Europe/Paris",
        centre: (48.8570, 2.3470),
        price_factor: 1.35,
        per_euro: 1.0,
        step: 1,
    },
    City {
        name: "Amsterdam",
        country: "NL",
        currency: "EUR",
        timezone: "Europe/Amsterdam",
        centre: (52.3700, 4.8920),
        price_factor: 1.3,
        per_euro: 1.0,
        step: 1,
    },
    City {
        name: "Berlin",
        country: "DE",
        currency: "EUR",
        timezone: "Europe/Berlin",
        centre: (52.5200, 13.4050),
        price_factor: 0.95,
        per_euro: 1.0,
        step: 1,
    },
    City {
        name: "Rome",
        country: "IT",
        currency: "EUR",
        timezone: "Europe/Rome",
        centre: (41.8960, 12.4820),
        price_factor: 1.1,
        per_euro: 1.0,
        step: 1,
    },
    City {
        name: "Prague",
        country: "CZ",
        currency: "CZK",
        timezone: "Europe/Prague",
        centre: (50.0860, 14.4210),
        price_factor: 0.75,
        per_euro: 25.0,
        step: 10,
    },
];

const LISBON: usize = 0;
const PORTO: usize = 1;
const BARCELONA: usize = 2;
const PARIS: usize = 3;
const AMSTERDAM: usize = 4;
const BERLIN: usize = 5;
const ROME: usize = 6;
const PRAGUE: usize = 7;

/// The demo hotels.
pub(super) const HOTELS: &[HotelSeed] = &[
    // Lisbon
    HotelSeed {
        city: LISBON,
        name: "Casa Garrett Chiado",
        address: "Rua Garrett 58, 1200-204 Lisboa",
        location: (38.7107, -9.1420),
        stars: 4,
        view: Some("Tagus View"),
        description: "A restored 19th-century townhouse on Chiado's main shopping street, steps from Café A Brasileira and the Baixa-Chiado metro. Tiled staircase, a library lounge and a rooftop bar looking over the Tagus.",
    },
    HotelSeed {
        city: LISBON,
        name: "Alfama Terraces",
        address: "Rua de São Miguel 21, 1100-544 Lisboa",
        location: (38.7115, -9.1295),
        stars: 3,
        view: Some("River View"),
        description: "Family-run hotel in the maze of Alfama, between the cathedral and the fado houses. Breakfast is served on a terrace facing the river; tram 28 stops around the corner.",
    },
    HotelSeed {
        city: LISBON,
        name: "Palácio Liberdade",
        address: "Avenida da Liberdade 185, 1250-141 Lisboa",
        location: (38.7205, -9.1455),
        stars: 5,
        view: Some("Avenue View"),
        description: "A Belle Époque palace on Lisbon's grand boulevard, with a spa, an indoor pool and a much-praised Portuguese restaurant. Restauradores and Marquês de Pombal are a short stroll away under the plane trees.",
    },
    HotelSeed {
        city: LISBON,
        name: "Belém Riverside Inn",
        address: "Rua de Belém 92, 1300-085 Lisboa",
        location: (38.6972, -9.2020),
        stars: 3,
        view: None,
        description: "A quiet hotel near the Jerónimos Monastery and the original custard-tart bakery, with the riverside promenade, the MAAT and the Belém Tower a few minutes away on foot.",
    },
    // Porto
    HotelSeed {
        city: PORTO,
        name: "Ribeira Quay Hotel",
        address: "Cais da Ribeira 34, 4050-510 Porto",
        location: (41.1408, -8.6125),
        stars: 4,
        view: Some("Douro View"),
        description: "On the UNESCO-listed riverfront, facing the port-wine cellars of Vila Nova de Gaia; the Dom Luís I bridge is at the end of the quay and the rabelo boats leave from the door.",
    },
    HotelSeed {
        city: PORTO,
        name: "Casa dos Clérigos",
        address: "Rua das Carmelitas 100, 4050-162 Porto",
        location: (41.1468, -8.6148),
        stars: 3,
        view: None,
        description: "A boutique guesthouse between the Clérigos Tower and the Lello bookshop, with azulejo-lined corridors, a reading room and a port tasting every evening.",
    },
    HotelSeed {
        city: PORTO,
        name: "Foz Atlântico Hotel",
        address: "Avenida do Brasil 60, 4150-151 Porto",
        location: (41.1555, -8.6790),
        stars: 5,
        view: Some("Ocean View"),
        description: "A seafront hotel where the Douro meets the Atlantic, with an infinity pool, a seafood restaurant and the historic tram line to the old town at the door.",
    },
    // Barcelona
    HotelSeed {
        city: BARCELONA,
        name: "Hotel Ferran Gòtic",
        address: "Carrer de Ferran 25, 08002 Barcelona",
        location: (41.3818, 2.1755),
        stars: 3,
        view: None,
        description: "In the heart of the Gothic Quarter between Plaça Sant Jaume and La Rambla: medieval lanes, tapas bars, the cathedral and the Boqueria market are all within five minutes.",
    },
    HotelSeed {
        city: BARCELONA,
        name: "Eixample Modernista",
        address: "Passeig de Gràcia 74, 08008 Barcelona",
        location: (41.3935, 2.1630),
        stars: 5,
        view: Some("Passeig View"),
        description: "A modernista landmark on Passeig de Gràcia, across from La Pedrera, with a rooftop pool and a cocktail bar overlooking Gaudí's chimneys.",
    },
    HotelSeed {
        city: BARCELONA,
        name: "Pensió Verdi Gràcia",
        address: "Carrer de Verdi 32, 08012 Barcelona",
        location: (41.4035, 2.1568),
        stars: 2,
        view: None,
        description: "Simple, friendly rooms in bohemian Gràcia, close to its little squares, the Verdi cinema and Park Güell. Fontana metro is two streets away.",
    },
    HotelSeed {
        city: BARCELONA,
        name: "Barceloneta Mar Hotel",
        address: "Passeig de Joan de Borbó 54, 08003 Barcelona",
        location: (41.3785, 2.1885),
        stars: 4,
        view: Some("Sea View"),
        description: "A harbourside hotel a short walk from the beach, facing the yachts of Port Vell, with a sun terrace and the best paella of the Barceloneta on the doorstep.",
    },
    // Paris
    HotelSeed {
        city: PARIS,
        name: "Hôtel des Rosiers Marais",
        address: "12 Rue des Rosiers, 75004 Paris",
        location: (48.8572, 2.3590),
        stars: 4,
        view: Some("Courtyard View"),
        description: "An elegant hotel in the Marais among falafel shops, galleries and concept stores; the Place des Vosges and the Musée Picasso are a few streets away.",
    },
    HotelSeed {
        city: PARIS,
        name: "Le Petit Lepic Montmartre",
        address: "18 Rue Lepic, 75018 Paris",
        location: (48.8855, 2.3337),
        stars: 3,
        view: Some("Rooftop View"),
        description: "A charming hotel on the winding street that climbs to the Sacré-Cœur, past the Moulin de la Galette and the café from Amélie. Blanche and Abbesses metro stations are close by.",
    },
    HotelSeed {
        city: PARIS,
        name: "Hôtel Buci Saint-Germain",
        address: "7 Rue de Buci, 75006 Paris",
        location: (48.8535, 2.3372),
        stars: 5,
        view: None,
        description: "A luxury hotel on a lively market street of Saint-Germain-des-Prés, with a spa, a library bar and the Jardin du Luxembourg ten minutes away.",
    },
    HotelSeed {
        city: PARIS,
        name: "Hôtel Quai de Valmy",
        address: "55 Quai de Valmy, 75010 Paris",
        location: (48.8718, 2.3650),
        stars: 3,
        view: Some("Canal View"),
        description: "A relaxed canal-side hotel among the iron footbridges and bistros of the Canal Saint-Martin, two metro stops from the Gare du Nord.",
    },
    // Amsterdam
    HotelSeed {
        city: AMSTERDAM,
        name: "Prinsengracht Canal House",
        address: "Prinsengracht 315, 1016 GZ Amsterdam",
        location: (52.3742, 4.8838),
        stars: 4,
        view: Some("Canal View"),
        description: "Three 17th-century canal houses joined into one hotel in the Jordaan, near the Westerkerk and the Anne Frank House. Steep Dutch stairs (there is a lift), modern rooms.",
    },
    HotelSeed {
        city: AMSTERDAM,
        name: "Hotel Bolstraat De Pijp",
        address: "Ferdinand Bolstraat 48, 1072 LM Amsterdam",
        location: (52.3555, 4.8915),
        stars: 3,
        view: None,
        description: "A cheerful hotel next to the Albert Cuyp market in De Pijp, with bikes to rent, Sarphatipark round the corner and the museums a ten-minute walk away.",
    },
    HotelSeed {
        city: AMSTERDAM,
        name: "Museumplein Residence",
        address: "Van Baerlestraat 27, 1071 AN Amsterdam",
        location: (52.3585, 4.8790),
        stars: 5,
        view: Some("Museumplein View"),
        description: "A grand hotel between the Concertgebouw and the Rijksmuseum, with a spa, afternoon tea in the winter garden and Vondelpark at the end of the street.",
    },
    // Berlin
    HotelSeed {
        city: BERLIN,
        name: "Hackescher Hof Hotel",
        address: "Rosenthaler Straße 40, 10178 Berlin",
        location: (52.5250, 13.4025),
        stars: 4,
        view: None,
        description: "A design hotel by the Art Nouveau courtyards of Hackescher Markt, with Museum Island, the TV tower and Alexanderplatz within walking distance.",
    },
    HotelSeed {
        city: BERLIN,
        name: "Oranien Loft Kreuzberg",
        address: "Oranienstraße 25, 10999 Berlin",
        location: (52.5005, 13.4190),
        stars: 3,
        view: None,
        description: "Loft-style rooms in a converted factory in Kreuzberg, surrounded by street art, Turkish bakeries and late-night bars; the canal and Görlitzer Park are close.",
    },
    HotelSeed {
        city: BERLIN,
        name: "Kurfürstendamm Palais",
        address: "Kurfürstendamm 52, 10707 Berlin",
        location: (52.5015, 13.3195),
        stars: 5,
        view: Some("Boulevard View"),
        description: "A classic grand hotel on the Ku'damm with a ballroom and a spa; the KaDeWe and the Kaiser Wilhelm Memorial Church are a short walk away.",
    },
    // Rome
    HotelSeed {
        city: ROME,
        name: "Albergo della Lungaretta",
        address: "Via della Lungaretta 90, 00153 Roma",
        location: (41.8893, 12.4698),
        stars: 3,
        view: None,
        description: "A terracotta-coloured palazzo in the cobbled lanes of Trastevere, near Santa Maria in Trastevere and the trattorias around its piazza.",
    },
    HotelSeed {
        city: ROME,
        name: "Palazzo Rinascimento Navona",
        address: "Corso del Rinascimento 60, 00186 Roma",
        location: (41.8985, 12.4735),
        stars: 5,
        view: Some("Dome View"),
        description: "A Renaissance palazzo a few steps from Piazza Navona and the Pantheon, with a rooftop terrace overlooking the domes of the centro storico.",
    },
    HotelSeed {
        city: ROME,
        name: "Hotel Boschetto Monti",
        address: "Via del Boschetto 40, 00184 Roma",
        location: (41.8965, 12.4905),
        stars: 4,
        view: None,
        description: "A stylish hotel in Monti, Rome's village in the city, among vintage shops and wine bars; the Colosseum is a ten-minute walk downhill.",
    },
    HotelSeed {
        city: ROME,
        name: "Residenza Cola di Rienzo",
        address: "Via Cola di Rienzo 150, 00192 Roma",
        location: (41.9070, 12.4630),
        stars: 3,
        view: None,
        description: "A quiet residence in elegant Prati, on a shopping street a short walk from St Peter's Square and the Vatican Museums.",
    },
    // Prague
    HotelSeed {
        city: PRAGUE,
        name: "Hotel U Zlatého Kola",
        address: "Nerudova 28, 118 00 Praha 1",
        location: (50.0883, 14.4020),
        stars: 4,
        view: Some("Castle View"),
        description: "A baroque house on the Royal Way up to Prague Castle in Malá Strana, with vaulted cellars and views over the red roofs of the Lesser Town.",
    },
    HotelSeed {
        city: PRAGUE,
        name: "Celetná Old Town Residence",
        address: "Celetná 12, 110 00 Praha 1",
        location: (50.0872, 14.4240),
        stars: 5,
        view: None,
        description: "A house with Gothic foundations turned luxury hotel just off Old Town Square and the Astronomical Clock, with a spa in the medieval cellars.",
    },
    HotelSeed {
        city: PRAGUE,
        name: "Vinohrady Garden Hotel",
        address: "Mánesova 55, 120 00 Praha 2",
        location: (50.0775, 14.4390),
        stars: 3,
        view: Some("Garden View"),
        description: "An Art Nouveau apartment building in leafy Vinohrady near Náměstí Míru and the Riegrovy sady beer garden; tram 22 runs up to the castle.",
    },
];
