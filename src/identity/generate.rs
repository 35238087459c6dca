//! A seeded generator of commerce-style customers with known truth.
//!
//! Each person becomes one or more records across systems (`store`, `erp`,
//! `crm`), each record corrupted the way real customer files are: typos in
//! names, given and family name swapped, nicknames, accents dropped or
//! capitals everywhere, Gmail dots and `+tags`, a second email, phones in
//! every format (with or without `+1`), `St.` vs `Street`, `#4` vs `Apt 4`,
//! ZIP+4 or a ZIP that lost its leading zero, a move to a new address, and
//! missing fields. The truth (which person each record is) comes with it, so
//! precision, recall and blocking recall are measured, not assumed.
//!
//! ```
//! use seamwork::identity::generate::{GeneratorOptions, generate};
//!
//! let options = GeneratorOptions::default().with_entities(100);
//! let data = generate(&options);
//! assert_eq!(data.customers.len(), data.truth.len());
//! assert_eq!(data, generate(&options));
//! ```
// Corruption rates are probabilities.
#![allow(clippy::disallowed_types)]

use std::collections::HashSet;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::nicknames::nicknames_of;
use super::record::{NormalizeOptions, PreparedRecord};
use crate::model::{Address, Customer, ExternalRef};

/// How much is generated and how badly it is corrupted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GeneratorOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Distinct people.
    pub entities: usize,
    /// Systems the records come from.
    pub sources: Vec<String>,
    /// Chance a person is in each source (at least one).
    pub presence: f64,
    /// Chance of one more record of the person within a source (a duplicate).
    pub duplicates: f64,
    /// Per-record corruption rates.
    pub corruption: Corruption,
    /// Chance a person shares surname, address and phone with the previous
    /// person (a household: different people, easily over-merged).
    pub households: f64,
}

impl Default for GeneratorOptions {
    /// 10,000 people in one `store` file, 30% of them with a duplicate.
    fn default() -> Self {
        GeneratorOptions {
            seed: 42,
            entities: 10_000,
            sources: vec!["store".into()],
            presence: 1.0,
            duplicates: 0.3,
            corruption: Corruption::default(),
            households: 0.0,
        }
    }
}

impl GeneratorOptions {
    /// The same with `entities` people.
    pub fn with_entities(mut self, entities: usize) -> Self {
        self.entities = entities;
        self
    }

    /// The same with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Two systems (`store`, `erp`) with `entities` people each present in
    /// either with 70% chance: the linking set-up.
    pub fn two_systems(entities: usize) -> Self {
        GeneratorOptions {
            entities,
            sources: vec!["store".into(), "erp".into()],
            presence: 0.7,
            duplicates: 0.0,
            ..GeneratorOptions::default()
        }
    }
}

/// Per-record chances of each corruption (applied to copies after the first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Corruption {
    /// One-letter typo in the given or the family name.
    pub name_typo: f64,
    /// Given and family name swapped.
    pub swap_names: f64,
    /// A nickname instead of the given name (when the table has one).
    pub nickname: f64,
    /// Names in capitals or without accents.
    pub name_case: f64,
    /// No email.
    pub missing_email: f64,
    /// A Gmail-style alias or different case of the same address.
    pub email_alias: f64,
    /// A different email altogether (work address).
    pub other_email: f64,
    /// No phone.
    pub missing_phone: f64,
    /// A different phone number.
    pub other_phone: f64,
    /// No address.
    pub missing_address: f64,
    /// Moved: a new street address and postcode.
    pub moved: f64,
    /// A typo in the street line.
    pub address_typo: f64,
    /// No birth date.
    pub missing_birth_date: f64,
}

impl Default for Corruption {
    /// Rates seen in merged storefront/ERP/CRM exports: a store account
    /// almost always has an email, phones are often left out.
    fn default() -> Self {
        Corruption {
            name_typo: 0.15,
            swap_names: 0.03,
            nickname: 0.1,
            name_case: 0.2,
            missing_email: 0.05,
            email_alias: 0.3,
            other_email: 0.05,
            missing_phone: 0.3,
            other_phone: 0.1,
            missing_address: 0.1,
            moved: 0.05,
            address_typo: 0.1,
            missing_birth_date: 0.5,
        }
    }
}

/// Generated customers with their truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Generated {
    /// The records, each with one `ExternalRef` in its system.
    pub customers: Vec<Customer>,
    /// Which source (index into the options' sources) each record came from.
    pub sources: Vec<u16>,
    /// Which person each record is.
    pub truth: Vec<u32>,
    /// Birth date as written in the record, if any (an extra attribute).
    pub birth_dates: Vec<Option<String>>,
}

/// The columns [`Generated::write_csv`] writes (`person` is the truth).
pub const CSV_HEADER: [&str; 13] = [
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "apt",
    "city",
    "state",
    "zip",
    "birth_date",
    "updated_at",
    "person",
];

impl Generated {
    /// Writes the records of `source` as CSV with [`CSV_HEADER`] (the layout
    /// `examples/identity/spec.toml` reads); returns how many were written.
    pub fn write_csv(&self, source: u16, out: impl std::io::Write) -> Result<usize, crate::Error> {
        let fail = |e: csv::Error| {
            crate::Error::unavailable(format!("writing generated customers: {e}")).with_source(e)
        };
        let mut w = csv::Writer::from_writer(out);
        w.write_record(CSV_HEADER).map_err(fail)?;
        let mut written = 0;
        for (i, c) in self.customers.iter().enumerate() {
            if self.sources[i] != source {
                continue;
            }
            let a = c.addresses.first();
            let s = |v: Option<&String>| v.cloned().unwrap_or_default();
            w.write_record([
                c.id.clone(),
                s(c.first_name.as_ref()),
                s(c.last_name.as_ref()),
                s(c.emails.first()),
                s(c.phones.first()),
                a.map(|a| a.line1.clone()).unwrap_or_default(),
                s(a.and_then(|a| a.line2.as_ref())),
                a.map(|a| a.city.clone()).unwrap_or_default(),
                s(a.and_then(|a| a.region.as_ref())),
                s(a.and_then(|a| a.postcode.as_ref())),
                s(self.birth_dates[i].as_ref()),
                c.updated_at.to_rfc3339(),
                self.truth[i].to_string(),
            ])
            .map_err(fail)?;
            written += 1;
        }
        w.flush()
            .map_err(|e| crate::Error::unavailable(format!("writing generated customers: {e}")))?;
        Ok(written)
    }

    /// The records prepared for matching (no attributes), each with its source.
    pub fn prepared(&self, options: &NormalizeOptions) -> Vec<PreparedRecord> {
        self.customers
            .iter()
            .zip(&self.sources)
            .map(|(c, &s)| PreparedRecord::from_customer(c, s, vec![], options))
            .collect()
    }
}

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Dorothy",
    "George",
    "Melissa",
    "Timothy",
    "Deborah",
    "Ronald",
    "Stephanie",
    "Edward",
    "Rebecca",
    "Jason",
    "Sharon",
    "Jeffrey",
    "Laura",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Angela",
    "Eric",
    "Shirley",
    "Jonathan",
    "Anna",
    "Stephen",
    "Brenda",
    "Larry",
    "Pamela",
    "Justin",
    "Emma",
    "Scott",
    "Nicole",
    "Brandon",
    "Helen",
    "Benjamin",
    "Samantha",
    "Samuel",
    "Katherine",
    "Gregory",
    "Christine",
    "Alexander",
    "Debra",
    "Frank",
    "Rachel",
    "Patrick",
    "Carolyn",
    "Raymond",
    "Janet",
    "Jack",
    "Catherine",
    "Dennis",
    "Maria",
    "Jerry",
    "Heather",
    "José",
    "Zoë",
    "Renée",
    "Björn",
    "Chloé",
    "Andrés",
    "Siobhán",
    "François",
    "Jürgen",
    "Mónica",
    "Noémie",
    "Aarav",
    "Wei",
    "Yuki",
    "Olumide",
    "Priya",
    "Mateo",
    "Sofía",
    "Lukas",
    "Ingrid",
    "Hamza",
    "Fatima",
    "Dmitri",
    "Aleksandra",
    "Kwame",
];

const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "O'Brien",
    "Müller",
    "Núñez",
    "Øberg",
    "Dubois",
    "Kowalski",
    "Schröder",
    "MacDonald",
    "D'Angelo",
    "Van der Berg",
];

const SYLLABLES: &[&str] = &[
    "ka", "len", "mor", "ves", "tan", "bri", "hol", "dor", "wick", "sel", "ram", "ton", "ber",
    "gal", "nik", "ost", "pel", "quin", "rud", "sha", "tor", "vin", "zel", "ash", "ford", "ley",
    "man", "son", "stein", "ski", "ova", "ez", "ard", "ing", "lund", "ham",
];

const STREETS: &[&str] = &[
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Sunset",
    "Lincoln",
    "Jackson",
    "Church",
    "Highland",
    "Meadow",
    "River",
    "Forest",
    "Spring",
    "Ridge",
    "Willow",
    "Chestnut",
    "Walnut",
    "Franklin",
    "Jefferson",
    "Madison",
    "Adams",
    "Cherry",
    "Mill",
    "Valley",
];

/// Street types: (long, short) — records write either.
const STREET_TYPES: &[(&str, &str)] = &[
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Boulevard", "Blvd"),
    ("Court", "Ct"),
    ("Place", "Pl"),
];

const CITIES: &[(&str, &str, &str)] = &[
    ("New York", "NY", "212"),
    ("Los Angeles", "CA", "213"),
    ("Chicago", "IL", "312"),
    ("Houston", "TX", "713"),
    ("Phoenix", "AZ", "602"),
    ("Philadelphia", "PA", "215"),
    ("San Antonio", "TX", "210"),
    ("San Diego", "CA", "619"),
    ("Dallas", "TX", "214"),
    ("Boston", "MA", "617"),
    ("Seattle", "WA", "206"),
    ("Denver", "CO", "303"),
    ("Atlanta", "GA", "404"),
    ("Miami", "FL", "305"),
    ("Portland", "OR", "503"),
    ("Austin", "TX", "512"),
];

const PROVIDERS: &[&str] = &[
    "gmail.com",
    "gmail.com",
    "gmail.com",
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "comcast.net",
    "proton.me",
];

/// The true person behind the records.
#[derive(Clone)]
struct Person {
    first: String,
    last: String,
    email: String,
    phone: String,
    address: Addr,
    birth: NaiveDate,
}

#[derive(Clone)]
struct Addr {
    number: u32,
    street: usize,
    kind: usize,
    unit: Option<u32>,
    city: usize,
    zip: u32,
}

/// Generates customers and their truth; the same options give the same data.
pub fn generate(options: &GeneratorOptions) -> Generated {
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let c = &options.corruption;
    let sources = options.sources.len().clamp(1, usize::from(u16::MAX));
    let mut out = Generated {
        customers: Vec::new(),
        sources: Vec::new(),
        truth: Vec::new(),
        birth_dates: Vec::new(),
    };
    let mut used_emails = HashSet::new();
    let mut previous: Option<Person> = None;
    let start = Utc
        .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    for entity in 0..options.entities {
        let mut person = new_person(&mut rng, &mut used_emails);
        if let Some(prev) = &previous
            && rng.f64() < options.households
        {
            person.last = prev.last.clone();
            person.address = prev.address.clone();
            person.phone = prev.phone.clone();
        }
        let mut present: Vec<usize> = (0..sources)
            .filter(|_| rng.f64() < options.presence)
            .collect();
        if present.is_empty() {
            present.push(rng.usize(..sources));
        }
        let mut copies = 0;
        for &s in &present {
            let mut n = 1;
            while rng.f64() < options.duplicates && n < 4 {
                n += 1;
            }
            for _ in 0..n {
                let id = format!(
                    "{}-{}",
                    options.sources.get(s).map_or("src", String::as_str),
                    out.customers.len() + 1
                );
                let at = start + Duration::minutes(rng.i64(0..2_000_000));
                let (customer, birth) = record(
                    &mut rng,
                    &person,
                    c,
                    copies > 0,
                    &id,
                    at,
                    options.sources.get(s).map_or("src", String::as_str),
                );
                out.customers.push(customer);
                out.sources.push(s as u16);
                out.truth.push(entity as u32);
                out.birth_dates.push(birth);
                copies += 1;
            }
        }
        previous = Some(person);
    }
    // Records of one person must not sit next to each other.
    let n = out.customers.len();
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    Generated {
        customers: order.iter().map(|&i| out.customers[i].clone()).collect(),
        sources: order.iter().map(|&i| out.sources[i]).collect(),
        truth: order.iter().map(|&i| out.truth[i]).collect(),
        birth_dates: order.iter().map(|&i| out.birth_dates[i].clone()).collect(),
    }
}

fn pick<'a>(rng: &mut fastrand::Rng, list: &[&'a str]) -> &'a str {
    // Skewed towards the head: common names are common.
    let i = (rng.f64().powi(2) * list.len() as f64) as usize;
    list[i.min(list.len() - 1)]
}

fn new_person(rng: &mut fastrand::Rng, used: &mut HashSet<String>) -> Person {
    let first = pick(rng, FIRST).to_string();
    let last = if rng.f64() < 0.5 {
        pick(rng, LAST).to_string()
    } else {
        // A long tail of rarer surnames.
        let mut s = String::new();
        for _ in 0..rng.usize(2..4) {
            s.push_str(SYLLABLES[rng.usize(..SYLLABLES.len())]);
        }
        let mut cs = s.chars();
        cs.next()
            .map_or(s.clone(), |f| f.to_uppercase().chain(cs).collect())
    };
    let city = rng.usize(..CITIES.len());
    let address = Addr {
        number: rng.u32(1..9999),
        street: rng.usize(..STREETS.len()),
        kind: rng.usize(..STREET_TYPES.len()),
        unit: (rng.f64() < 0.3).then(|| rng.u32(1..400)),
        city,
        zip: rng.u32(1000..99999),
    };
    let ascii_first = super::normalize::fold_text(&first).replace(' ', "");
    let ascii_last = super::normalize::fold_text(&last).replace(' ', "");
    let provider = PROVIDERS[rng.usize(..PROVIDERS.len())];
    let mut email;
    loop {
        let local = match rng.u8(0..4) {
            0 => format!("{ascii_first}.{ascii_last}"),
            1 => format!("{}{ascii_last}{}", &ascii_first[..1], rng.u32(1..999)),
            2 => format!("{ascii_first}{}", rng.u32(10..99999)),
            _ => format!("{ascii_first}_{ascii_last}{}", rng.u32(1..99)),
        };
        email = format!("{local}@{provider}");
        if used.insert(email.clone()) {
            break;
        }
    }
    let area = CITIES[city].2;
    let phone = format!("{area}{}{:06}", rng.u32(2..10), rng.u32(0..1_000_000));
    let birth = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()
        + Duration::days(rng.i64(0..25_000));
    Person {
        first,
        last,
        email,
        phone,
        address,
        birth,
    }
}

fn typo(rng: &mut fastrand::Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 3 {
        return s.to_string();
    }
    let i = rng.usize(1..chars.len());
    match rng.u8(0..4) {
        0 => {
            chars.remove(i);
        }
        1 => chars.swap(i - 1, i),
        2 => chars.insert(i, chars[i]),
        _ => chars[i] = (b'a' + rng.u8(0..26)) as char,
    }
    chars.into_iter().collect()
}

#[allow(clippy::too_many_arguments)]
fn record(
    rng: &mut fastrand::Rng,
    p: &Person,
    c: &Corruption,
    corrupt: bool,
    id: &str,
    at: chrono::DateTime<Utc>,
    system: &str,
) -> (Customer, Option<String>) {
    let hit = |rng: &mut fastrand::Rng, rate: f64| corrupt && rng.f64() < rate;
    let mut first = p.first.clone();
    let mut last = p.last.clone();
    if hit(rng, c.nickname) {
        let formal = super::normalize::fold_text(&first);
        let nicks: Vec<&str> = nicknames_of(&formal).collect();
        if !nicks.is_empty() {
            let n = nicks[rng.usize(..nicks.len())];
            let mut cs = n.chars();
            first = cs
                .next()
                .map_or(String::new(), |f| f.to_uppercase().chain(cs).collect());
        }
    }
    if hit(rng, c.name_typo) {
        if rng.bool() {
            first = typo(rng, &first);
        } else {
            last = typo(rng, &last);
        }
    }
    if hit(rng, c.name_case) {
        if rng.bool() {
            first = first.to_uppercase();
            last = last.to_uppercase();
        } else {
            first = deunicode::deunicode(&first);
            last = deunicode::deunicode(&last);
        }
    }
    if hit(rng, c.swap_names) {
        std::mem::swap(&mut first, &mut last);
    }
    let mut customer = Customer::new(id, at);
    customer.first_name = Some(first);
    customer.last_name = Some(last);
    customer.external_refs.push(ExternalRef::new(system, id));
    if !hit(rng, c.missing_email) {
        let mut email = p.email.clone();
        if hit(rng, c.other_email) {
            let local = super::normalize::fold_text(&p.first).replace(' ', "");
            email = format!(
                "{local}.{}@work{}.example.com",
                rng.u32(1..99999),
                rng.u32(1..999)
            );
        } else if hit(rng, c.email_alias) {
            let (local, domain) = email.split_once('@').unwrap_or((&email, ""));
            email = match (domain, rng.u8(0..3)) {
                ("gmail.com", 0) => {
                    let mid = local.len() / 2;
                    format!("{}.{}@gmail.com", &local[..mid], &local[mid..])
                }
                ("gmail.com" | "outlook.com" | "icloud.com" | "proton.me", 1) => {
                    format!("{local}+shop@{domain}")
                }
                _ => email.to_uppercase(),
            };
        }
        customer.emails.push(email);
    }
    if !hit(rng, c.missing_phone) {
        let mut digits = p.phone.clone();
        if hit(rng, c.other_phone) {
            digits = format!(
                "{}{}{:06}",
                &digits[..3],
                rng.u32(2..10),
                rng.u32(0..1_000_000)
            );
        }
        let (a, b, d) = (&digits[..3], &digits[3..6], &digits[6..]);
        let phone = match rng.u8(0..6) {
            0 => format!("({a}) {b}-{d}"),
            1 => format!("{a}-{b}-{d}"),
            2 => format!("+1 {a} {b} {d}"),
            3 => digits.clone(),
            4 => format!("{a}.{b}.{d}"),
            _ => format!("1-{a}-{b}-{d}"),
        };
        customer.phones.push(phone);
    }
    if !hit(rng, c.missing_address) {
        let mut addr = p.address.clone();
        if hit(rng, c.moved) {
            addr.number = rng.u32(1..9999);
            addr.street = rng.usize(..STREETS.len());
            addr.unit = None;
            addr.zip = rng.u32(1000..99999);
        }
        let (long, short) = STREET_TYPES[addr.kind];
        let kind = match rng.u8(0..3) {
            0 => long.to_string(),
            1 => short.to_string(),
            _ => format!("{short}."),
        };
        let mut street = STREETS[addr.street].to_string();
        if hit(rng, c.address_typo) {
            street = typo(rng, &street);
        }
        let mut line1 = format!("{} {street} {kind}", addr.number);
        let mut line2 = None;
        if let Some(u) = addr.unit {
            match rng.u8(0..3) {
                0 => line1.push_str(&format!(" #{u}")),
                1 => line2 = Some(format!("Apt {u}")),
                _ => line1.push_str(&format!(", Apartment {u}")),
            }
        }
        if corrupt && rng.bool() {
            line1 = line1.to_uppercase();
        }
        let (city, region, _) = CITIES[addr.city];
        let mut a = Address::new(line1, city, "US");
        a.line2 = line2;
        a.region = Some(region.into());
        a.postcode = Some(match rng.u8(0..4) {
            0 => format!("{:05}-{:04}", addr.zip, rng.u32(0..10_000)),
            1 if addr.zip < 10_000 => addr.zip.to_string(), // lost its leading zero
            _ => format!("{:05}", addr.zip),
        });
        customer.addresses.push(a);
    }
    let birth = (!hit(rng, c.missing_birth_date) && rng.f64() < 0.7).then(|| match rng.u8(0..3) {
        0 => p.birth.format("%Y-%m-%d").to_string(),
        1 => p.birth.format("%m/%d/%Y").to_string(),
        _ => p.birth.format("%B %-d, %Y").to_string(),
    });
    (customer, birth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_valid_and_with_truth() {
        let o = GeneratorOptions {
            entities: 500,
            ..GeneratorOptions::default()
        };
        let a = generate(&o);
        assert_eq!(a, generate(&o));
        assert!(a.customers.len() > 500);
        assert_eq!(a.customers.len(), a.truth.len());
        for c in &a.customers {
            assert!(c.validate().is_ok(), "{:?}", c.validate());
        }
        let other = generate(&GeneratorOptions { seed: 1, ..o });
        assert_ne!(a, other);
    }

    #[test]
    fn two_systems_have_both_sources() {
        let g = generate(&GeneratorOptions::two_systems(300));
        assert!(g.sources.contains(&0) && g.sources.contains(&1));
        assert!(g.customers.iter().all(|c| c.external_refs.len() == 1));
    }

    #[test]
    fn typos_change_one_letter() {
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..100 {
            let t = typo(&mut rng, "jonathan");
            assert!(strsim::levenshtein(&t, "jonathan") <= 2, "{t}");
        }
    }
}
