//! The run's sources, each opened once on first use and shared by every check that reads it;
//! each opening passes the source's circuit breaker (named after the source).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::Mutex;

use super::{Source, SourceSpec};
use crate::breaker::Breakers;
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// Sources opened once each, on first use; one that fails to open is tried again next time,
/// unless its circuit breaker opened (see [`crate::breaker`]): a source that cannot be reached
/// is then left alone for the breaker's cool-down, by every check that reads it.
pub struct SourcePool<'c> {
    specs: &'c BTreeMap<String, SourceSpec>,
    breakers: &'c Breakers,
    open: Mutex<HashMap<String, Arc<Source>>>,
}

impl<'c> SourcePool<'c> {
    /// A pool over the configured sources; nothing is opened yet.
    pub fn new(specs: &'c BTreeMap<String, SourceSpec>, breakers: &'c Breakers) -> SourcePool<'c> {
        SourcePool {
            specs,
            breakers,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The source named `name`, opened now unless it is open already.
    pub async fn get(&self, name: &str) -> Result<Arc<Source>> {
        let mut open = self.open.lock().await;
        if let Some(source) = open.get(name) {
            return Ok(source.clone());
        }
        let spec = self
            .specs
            .get(name)
            .ok_or_else(|| Error::bad_input(format!("source {name} is not configured")))?;
        let source = Arc::new(self.breakers.guard(name, Source::connect(spec)).await?);
        open.insert(name.to_string(), source.clone());
        Ok(source)
    }

    /// How syncs reading every source of `names` are retried: the tightest of their policies
    /// (the default when one is not configured).
    pub fn policy(&self, names: &[&str]) -> RetryPolicy {
        let mut policies = names.iter().map(|n| self.specs.get(*n).map(|s| s.retry));
        let Some(Some(first)) = policies.next() else {
            return RetryPolicy::default();
        };
        policies
            .try_fold(first, |tight, p| p.map(|p| tight.tighter(p)))
            .unwrap_or_default()
    }

    /// The run's circuit breakers, which the checks reading these sources share.
    pub(crate) fn breakers(&self) -> &'c Breakers {
        self.breakers
    }

    /// Closes every source opened.
    pub async fn close(&self) {
        for source in self.open.lock().await.values() {
            source.close().await;
        }
    }
}
