//! How findings are worded and classified (`emit` and the tightened / relaxed / widened / narrowed helpers).

use super::*;

impl SchemaDiff<'_, '_> {
    /// "input `a.b`" / "output schema": how messages name a location.
    pub(super) fn subject(&self, loc: &Loc) -> String {
        let side = match self.side {
            SchemaSide::Input => "input",
            SchemaSide::Output => "output",
        };
        if loc.path.is_empty() {
            format!("{side} schema")
        } else {
            format!("{side} property `{}`", loc.path)
        }
    }

    /// The rule for this side: input and output changes are classified apart.
    pub(super) fn for_side(&self, input: Rule, output: Rule) -> Rule {
        match self.side {
            SchemaSide::Input => input,
            SchemaSide::Output => output,
        }
    }

    pub(super) fn emit(
        &mut self,
        rule: Rule,
        pointer: String,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        self.out.push(Change::from_rule(
            rule,
            Some(self.tool),
            Some(pointer),
            message,
            old,
            new,
        ));
    }

    pub(super) fn unclassified(
        &mut self,
        loc: &Loc,
        key: &str,
        what: &str,
        old: &Value,
        new: &Value,
    ) {
        let message = format!("{} changed ({what}): review by hand", self.subject(loc));
        self.emit(
            rules::SCHEMA_CHANGED,
            loc.pointer(key, true),
            message,
            Some(old.clone()),
            Some(new.clone()),
        );
    }

    pub(super) fn type_widened(&mut self, loc: &Loc, message: String, old: &Value, new: &Value) {
        self.type_widened_at(
            loc.pointer("type", true),
            message,
            Some(old.clone()),
            Some(new.clone()),
        );
    }

    pub(super) fn type_narrowed(&mut self, loc: &Loc, message: String, old: &Value, new: &Value) {
        self.type_narrowed_at(
            loc.pointer("type", true),
            message,
            Some(old.clone()),
            Some(new.clone()),
        );
    }

    pub(super) fn type_widened_at(
        &mut self,
        pointer: String,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        let rule = self.for_side(
            rules::PROPERTY_TYPE_WIDENED,
            rules::OUTPUT_PROPERTY_TYPE_CHANGED,
        );
        self.emit(rule, pointer, message, old, new);
    }

    pub(super) fn type_narrowed_at(
        &mut self,
        pointer: String,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        let rule = self.for_side(
            rules::PROPERTY_TYPE_CHANGED,
            rules::OUTPUT_PROPERTY_TYPE_NARROWED,
        );
        self.emit(rule, pointer, message, old, new);
    }

    pub(super) fn tightened(
        &mut self,
        pointer: String,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        let rule = self.for_side(
            rules::CONSTRAINT_TIGHTENED,
            rules::OUTPUT_CONSTRAINT_CHANGED,
        );
        self.emit(rule, pointer, message, old, new);
    }

    pub(super) fn relaxed(
        &mut self,
        pointer: String,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        let rule = self.for_side(rules::CONSTRAINT_RELAXED, rules::OUTPUT_CONSTRAINT_CHANGED);
        self.emit(rule, pointer, message, old, new);
    }

    pub(super) fn tighter_or_relaxed(
        &mut self,
        tighter: bool,
        pointer: String,
        message: String,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        let (old, new) = (old.cloned(), new.cloned());
        if tighter {
            self.tightened(pointer, message, old, new);
        } else {
            self.relaxed(pointer, message, old, new);
        }
    }
}
