//! The last-room race, over any system under test: `contenders` guests try at once to book
//! the one remaining unit of a stay; the checker counts the answers and reads the counters
//! and the bookings afterwards. The real system is the node over HTTP; an in-memory inventory
//! that checks, yields and then writes shows that the same checks catch an oversell.

use std::sync::Arc;

use async_trait::async_trait;

/// What one guest's attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `201 Created`.
    Created,
    /// `409` problem+json with code `sold_out`.
    SoldOut,
    /// Anything else: the status and a description.
    Other { status: u16, what: String },
}

/// The counters of one night of the raced stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Night {
    pub total: u32,
    pub held: u32,
    pub sold: u32,
}

/// A system that sells the last unit of a stay.
#[async_trait]
pub trait LastUnit: Send + Sync + 'static {
    /// Guest `guest` tries to book the stay.
    async fn book(&self, guest: usize) -> Outcome;
    /// The counters of every night of the stay, afterwards.
    async fn nights(&self) -> Vec<Night>;
    /// How many bookings of the stay exist, afterwards.
    async fn bookings(&self) -> usize;
}

/// What a race gave.
#[derive(Debug, Clone, Default)]
pub struct RaceReport {
    pub created: usize,
    pub sold_out: usize,
    pub server_errors: usize,
    /// Answers neither 201 nor 409 `sold_out` (5xx included), described.
    pub others: Vec<String>,
    pub nights: Vec<Night>,
    pub bookings: usize,
}

impl RaceReport {
    /// Everything wrong with the race: exactly one `201`, `contenders - 1` `sold_out`, no
    /// other answer, every night at `held = 1, sold = 0, total = total` (so never
    /// `held + sold > total`), exactly one booking.
    pub fn violations(&self, contenders: usize, nights: usize, total: u32) -> Vec<String> {
        let mut found = Vec::new();
        if self.created != 1 {
            found.push(format!("{} answers were 201 Created, not 1", self.created));
        }
        if self.sold_out != contenders - 1 {
            found.push(format!(
                "{} answers were 409 sold_out, not {}",
                self.sold_out,
                contenders - 1
            ));
        }
        if self.server_errors > 0 {
            found.push(format!("{} server errors", self.server_errors));
        }
        if !self.others.is_empty() {
            found.push(format!("unexpected answers: {:?}", self.others));
        }
        if self.nights.len() != nights {
            found.push(format!(
                "{} nights of counters, not {nights}",
                self.nights.len()
            ));
        }
        for (i, night) in self.nights.iter().enumerate() {
            if night.held + night.sold > night.total {
                found.push(format!("night {i} oversold: {night:?}"));
            }
            let wanted = Night {
                total,
                held: 1,
                sold: 0,
            };
            if *night != wanted {
                found.push(format!("night {i}: {night:?}, not {wanted:?}"));
            }
        }
        if self.bookings != 1 {
            found.push(format!("{} bookings exist, not 1", self.bookings));
        }
        found
    }
}

/// Runs one race: `contenders` tasks released together, each booking once; then reads the
/// counters and the bookings.
pub async fn race<S: LastUnit>(system: Arc<S>, contenders: usize) -> RaceReport {
    let start = Arc::new(tokio::sync::Barrier::new(contenders));
    let attempts: Vec<_> = (0..contenders)
        .map(|guest| {
            let (system, start) = (system.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                system.book(guest).await
            })
        })
        .collect();
    let mut report = RaceReport::default();
    for attempt in attempts {
        match attempt.await.expect("attempt") {
            Outcome::Created => report.created += 1,
            Outcome::SoldOut => report.sold_out += 1,
            Outcome::Other { status, what } => {
                if status >= 500 {
                    report.server_errors += 1;
                }
                report.others.push(format!("{status}: {what}"));
            }
        }
    }
    report.nights = system.nights().await;
    report.bookings = system.bookings().await;
    report
}

/// An inventory kept in memory the naive way: read the counters, decide, then write. The
/// `await` between the check and the write lets every contender pass the check.
#[derive(Debug)]
pub struct CheckThenInsert {
    total: u32,
    nights: std::sync::Mutex<Vec<Night>>,
    bookings: std::sync::Mutex<Vec<usize>>,
    /// Whether the check and the write happen under one lock (the correct variant).
    atomic: bool,
}

impl CheckThenInsert {
    /// `nights` nights of `total` rooms, none taken; `atomic` checks and writes under one
    /// lock, otherwise the check and the write are two steps with a yield between them.
    pub fn new(nights: usize, total: u32, atomic: bool) -> Self {
        let night = Night {
            total,
            held: 0,
            sold: 0,
        };
        Self {
            total,
            nights: std::sync::Mutex::new(vec![night; nights]),
            bookings: std::sync::Mutex::new(Vec::new()),
            atomic,
        }
    }

    fn free(&self) -> bool {
        let nights = self.nights.lock().expect("lock");
        nights.iter().all(|n| n.held + n.sold < self.total)
    }

    fn take(&self, guest: usize) {
        let mut nights = self.nights.lock().expect("lock");
        for night in nights.iter_mut() {
            night.held += 1;
        }
        self.bookings.lock().expect("lock").push(guest);
    }
}

#[async_trait]
impl LastUnit for CheckThenInsert {
    async fn book(&self, guest: usize) -> Outcome {
        if self.atomic {
            // One critical section: the check and the write cannot interleave.
            let mut nights = self.nights.lock().expect("lock");
            if nights.iter().all(|n| n.held + n.sold < self.total) {
                for night in nights.iter_mut() {
                    night.held += 1;
                }
                self.bookings.lock().expect("lock").push(guest);
                return Outcome::Created;
            }
            return Outcome::SoldOut;
        }
        if !self.free() {
            return Outcome::SoldOut;
        }
        // The bug: another request runs between the check and the write (a query round trip
        // in a real store).
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        self.take(guest);
        Outcome::Created
    }

    async fn nights(&self) -> Vec<Night> {
        self.nights.lock().expect("lock").clone()
    }

    async fn bookings(&self) -> usize {
        self.bookings.lock().expect("lock").len()
    }
}
