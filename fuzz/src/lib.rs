//! What the report targets share: a format's option sets, built once, the first input byte picking one and the rest being the report.

use recon::fuzzing::{parse_report_checked, report_format};
use recon::settlement::Format;

/// One report format under several option sets (each TOML text as a check writes it).
pub struct Formats(Vec<Format>);

impl Formats {
    /// Panics when an option set is refused: the target itself is wrong, not the parser.
    pub fn new(name: &str, option_sets: &[&str]) -> Formats {
        Formats(
            option_sets
                .iter()
                .map(|options| match report_format(name, options) {
                    Ok(format) => format,
                    Err(e) => panic!("the target's {name} options are refused: {e}\n{options}"),
                })
                .collect(),
        )
    }

    /// Parses `data[1..]` with the option set `data[0]` picks; an `Err` (a refused file) is a
    /// clean outcome, a panic is a finding.
    pub fn parse(&self, data: &[u8]) {
        if let Some((pick, report)) = data.split_first() {
            let format = &self.0[usize::from(*pick) % self.0.len()];
            let _ = parse_report_checked(format, report);
        }
    }
}
