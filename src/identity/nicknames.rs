//! A small table of common English given-name nicknames and their formal form.
//!
//! Deliberately conservative: only nicknames that almost always stand for one
//! formal name (`Bill` → `William`); ambiguous ones (`Alex`, `Sam`, `Chris`)
//! are left alone because mapping them would merge different people.

/// (nickname, formal name), sorted by nickname for binary search.
const TABLE: &[(&str, &str)] = &[
    ("abby", "abigail"),
    ("andy", "andrew"),
    ("barb", "barbara"),
    ("becky", "rebecca"),
    ("ben", "benjamin"),
    ("beth", "elizabeth"),
    ("betsy", "elizabeth"),
    ("betty", "elizabeth"),
    ("bill", "william"),
    ("billy", "william"),
    ("bob", "robert"),
    ("bobby", "robert"),
    ("cathy", "catherine"),
    ("chuck", "charles"),
    ("dan", "daniel"),
    ("danny", "daniel"),
    ("dave", "david"),
    ("debbie", "deborah"),
    ("dick", "richard"),
    ("ed", "edward"),
    ("eddie", "edward"),
    ("greg", "gregory"),
    ("jake", "jacob"),
    ("jeff", "jeffrey"),
    ("jen", "jennifer"),
    ("jenny", "jennifer"),
    ("jim", "james"),
    ("jimmy", "james"),
    ("joe", "joseph"),
    ("joey", "joseph"),
    ("johnny", "john"),
    ("jon", "jonathan"),
    ("kate", "katherine"),
    ("kathy", "katherine"),
    ("katie", "katherine"),
    ("ken", "kenneth"),
    ("kim", "kimberly"),
    ("larry", "lawrence"),
    ("liz", "elizabeth"),
    ("liza", "elizabeth"),
    ("maggie", "margaret"),
    ("matt", "matthew"),
    ("meg", "margaret"),
    ("mike", "michael"),
    ("mikey", "michael"),
    ("nick", "nicholas"),
    ("pat", "patricia"),
    ("patty", "patricia"),
    ("peggy", "margaret"),
    ("pete", "peter"),
    ("rich", "richard"),
    ("rick", "richard"),
    ("rob", "robert"),
    ("ron", "ronald"),
    ("steve", "steven"),
    ("sue", "susan"),
    ("susie", "susan"),
    ("ted", "edward"),
    ("tom", "thomas"),
    ("tommy", "thomas"),
    ("tony", "anthony"),
    ("vicky", "victoria"),
    ("will", "william"),
];

/// The formal form of `nickname` (lower case), if the table knows it.
pub fn formal(nickname: &str) -> Option<&'static str> {
    TABLE
        .binary_search_by(|(n, _)| (*n).cmp(nickname))
        .ok()
        .map(|i| TABLE[i].1)
}

/// The nicknames of `formal` (lower case) the table knows, for generating test data.
pub fn nicknames_of(formal: &str) -> impl Iterator<Item = &'static str> + '_ {
    TABLE
        .iter()
        .filter(move |(_, f)| *f == formal)
        .map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_found() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(formal("bob"), Some("robert"));
        assert_eq!(formal("alex"), None);
        assert_eq!(formal("Bob"), None); // callers fold case first
        assert_eq!(
            nicknames_of("william").collect::<Vec<_>>(),
            ["bill", "billy", "will"]
        );
    }
}
