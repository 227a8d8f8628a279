//! Schema diff: an ordered list of changes from one schema to another, each flagged
//! destructive or not, and their rendering as `ALTER TABLE` statements per dialect.
//!
//! Columns are matched by name. A dropped and an added column of the same type are
//! reported as a rename *candidate* (informational): the diff still drops and adds
//! (destructive) until [`SchemaDiff::accept_rename`] turns the pair into a rename.
//! Indexes and unique constraints are not compared.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::ddl::{column_def, quote_list, render_type, DdlOptions, Dialect, TableName};
use super::{CanonicalSchema, Column, LogicalType};
use crate::error::{Error, ErrorKind, Result};

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    AddColumn {
        column: Column,
    },
    /// Destructive: the column's data is lost.
    DropColumn {
        column: Column,
    },
    /// Informational: `from` was dropped and `to` added with the same type.
    RenameCandidate {
        from: String,
        to: String,
    },
    RenameColumn {
        from: String,
        to: String,
    },
    /// Destructive unless `widening` (every old value fits the new type).
    AlterType {
        column: String,
        from: LogicalType,
        to: LogicalType,
        widening: bool,
    },
    SetNullable {
        column: String,
        nullable: bool,
    },
    SetDefault {
        column: String,
        default: Option<String>,
    },
    SetPrimaryKey {
        from: Vec<String>,
        to: Vec<String>,
    },
}

impl Change {
    pub fn destructive(&self) -> bool {
        match self {
            Change::DropColumn { .. } => true,
            Change::AlterType { widening, .. } => !widening,
            _ => false,
        }
    }

    /// A one-line human description.
    pub fn describe(&self) -> String {
        match self {
            Change::AddColumn { column } => format!(
                "add column {:?} {}{}",
                column.name,
                column.data_type,
                if column.nullable { "" } else { " NOT NULL" }
            ),
            Change::DropColumn { column } => format!("drop column {:?}", column.name),
            Change::RenameCandidate { from, to } => format!(
                "column {from:?} may have been renamed to {to:?} (accept_rename to keep its data)"
            ),
            Change::RenameColumn { from, to } => format!("rename column {from:?} to {to:?}"),
            Change::AlterType {
                column,
                from,
                to,
                widening,
            } => format!(
                "change type of {column:?} from {from} to {to} ({})",
                if *widening { "widening" } else { "narrowing" }
            ),
            Change::SetNullable { column, nullable } => format!(
                "make {column:?} {}",
                if *nullable { "nullable" } else { "NOT NULL" }
            ),
            Change::SetDefault { column, default } => match default {
                Some(d) => format!("set default of {column:?} to {d}"),
                None => format!("drop default of {column:?}"),
            },
            Change::SetPrimaryKey { from, to } => {
                format!("change primary key from {from:?} to {to:?}")
            }
        }
    }
}

/// Whether every value of `from` is representable in `to`.
pub fn is_widening(from: &LogicalType, to: &LogicalType) -> bool {
    use LogicalType as L;
    if from == to {
        return true;
    }
    if let (Some((fb, fs)), Some((tb, ts))) = (from.int_bits(), to.int_bits()) {
        return (fs == ts && tb >= fb) || (!fs && ts && tb > fb);
    }
    match (from, to) {
        (_, L::String(None)) => !matches!(from, L::Binary(_) | L::Geometry | L::Array(_)),
        (L::String(Some(a)), L::String(Some(b))) => b >= a,
        (L::Enum(vals), L::String(Some(n))) => {
            vals.iter().all(|v| v.chars().count() <= *n as usize)
        }
        (L::Binary(Some(a)), L::Binary(Some(b))) => b >= a,
        (L::Binary(_), L::Binary(None)) => true,
        (L::Float32, L::Float64) => true,
        (f, L::Float64) if f.int_bits().is_some_and(|(b, _)| b <= 32) => true,
        (f, L::Float32) if f.int_bits().is_some_and(|(b, _)| b <= 16) => true,
        (f, L::Decimal { precision, scale }) if f.is_integer() => {
            (*precision as i32 - *scale as i32) >= f.int_digits().unwrap() as i32
        }
        (
            L::Decimal {
                precision: p1,
                scale: s1,
            },
            L::Decimal {
                precision: p2,
                scale: s2,
            },
        ) => s2 >= s1 && (*p2 as i32 - *s2 as i32) >= (*p1 as i32 - *s1 as i32),
        (L::Date, L::Timestamp) | (L::Date, L::TimestampTz) => true,
        (L::Enum(a), L::Enum(b)) => a.iter().all(|v| b.contains(v)),
        (L::Array(a), L::Array(b)) => is_widening(a, b),
        _ => false,
    }
}

/// The changes from `old` to `new`, plus both schemas (needed to render some dialects).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaDiff {
    pub changes: Vec<Change>,
    pub old: CanonicalSchema,
    pub new: CanonicalSchema,
}

/// Compare two schemas. Order: drops, renames, adds, type changes, nullability,
/// defaults, primary key.
pub fn diff(old: &CanonicalSchema, new: &CanonicalSchema) -> SchemaDiff {
    let mut drops = Vec::new();
    let mut adds = Vec::new();
    let mut alters = Vec::new();
    let mut nulls = Vec::new();
    let mut defaults = Vec::new();
    for c in &old.columns {
        if new.column(&c.name).is_none() {
            drops.push(Change::DropColumn { column: c.clone() });
        }
    }
    for c in &new.columns {
        match old.column(&c.name) {
            None => adds.push(Change::AddColumn { column: c.clone() }),
            Some(o) => {
                if o.data_type != c.data_type {
                    alters.push(Change::AlterType {
                        column: c.name.clone(),
                        from: o.data_type.clone(),
                        to: c.data_type.clone(),
                        widening: is_widening(&o.data_type, &c.data_type),
                    });
                }
                if o.nullable != c.nullable {
                    nulls.push(Change::SetNullable {
                        column: c.name.clone(),
                        nullable: c.nullable,
                    });
                }
                if o.default != c.default {
                    defaults.push(Change::SetDefault {
                        column: c.name.clone(),
                        default: c.default.clone(),
                    });
                }
            }
        }
    }
    // Rename candidates: a dropped and an added column of the same type, paired in order.
    let mut candidates = Vec::new();
    let mut taken = vec![false; adds.len()];
    for d in &drops {
        let Change::DropColumn { column: dc } = d else {
            continue;
        };
        for (i, a) in adds.iter().enumerate() {
            let Change::AddColumn { column: ac } = a else {
                continue;
            };
            if !taken[i] && ac.data_type == dc.data_type {
                taken[i] = true;
                candidates.push(Change::RenameCandidate {
                    from: dc.name.clone(),
                    to: ac.name.clone(),
                });
                break;
            }
        }
    }
    let mut changes = drops;
    changes.extend(candidates);
    changes.extend(adds);
    changes.extend(alters);
    changes.extend(nulls);
    changes.extend(defaults);
    if old.primary_key != new.primary_key {
        changes.push(Change::SetPrimaryKey {
            from: old.primary_key.clone(),
            to: new.primary_key.clone(),
        });
    }
    SchemaDiff {
        changes,
        old: old.clone(),
        new: new.clone(),
    }
}

impl SchemaDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn destructive(&self) -> bool {
        self.changes.iter().any(Change::destructive)
    }

    /// Treat dropped `from` + added `to` as a rename (keeps the data). Follow-up type,
    /// nullability and default changes are added when the two columns differ.
    pub fn accept_rename(&mut self, from: &str, to: &str) -> Result<()> {
        let drop_at = self
            .changes
            .iter()
            .position(|c| matches!(c, Change::DropColumn { column } if column.name == from));
        let add_at = self
            .changes
            .iter()
            .position(|c| matches!(c, Change::AddColumn { column } if column.name == to));
        let (Some(drop_at), Some(add_at)) = (drop_at, add_at) else {
            return Err(Error::interface(format!(
                "the diff does not drop {from:?} and add {to:?}, so it cannot rename one into the other"
            )));
        };
        let Change::DropColumn { column: old } = self.changes[drop_at].clone() else {
            unreachable!()
        };
        let Change::AddColumn { column: new } = self.changes[add_at].clone() else {
            unreachable!()
        };
        let mut follow = Vec::new();
        if old.data_type != new.data_type {
            follow.push(Change::AlterType {
                column: to.to_string(),
                from: old.data_type.clone(),
                to: new.data_type.clone(),
                widening: is_widening(&old.data_type, &new.data_type),
            });
        }
        if old.nullable != new.nullable {
            follow.push(Change::SetNullable {
                column: to.to_string(),
                nullable: new.nullable,
            });
        }
        if old.default != new.default {
            follow.push(Change::SetDefault {
                column: to.to_string(),
                default: new.default.clone(),
            });
        }
        self.changes[drop_at] = Change::RenameColumn {
            from: from.to_string(),
            to: to.to_string(),
        };
        self.changes.remove(add_at);
        self.changes.retain(
            |c| !matches!(c, Change::RenameCandidate { from: f, to: t } if f == from || t == to),
        );
        // Follow-ups go before nullability/default/PK changes of other columns: after the
        // last AddColumn/AlterType is fine for every dialect.
        let at = self
            .changes
            .iter()
            .rposition(|c| {
                matches!(
                    c,
                    Change::AddColumn { .. }
                        | Change::AlterType { .. }
                        | Change::RenameColumn { .. }
                        | Change::DropColumn { .. }
                )
            })
            .map(|i| i + 1)
            .unwrap_or(0);
        for (k, c) in follow.into_iter().enumerate() {
            self.changes.insert(at + k, c);
        }
        Ok(())
    }

    /// Renamed columns: new name → old name.
    fn renames(&self) -> HashMap<&str, &str> {
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::RenameColumn { from, to } => Some((to.as_str(), from.as_str())),
                _ => None,
            })
            .collect()
    }

    /// The statements applying this diff to `table` in dialect `d`.
    pub fn to_sql(&self, d: Dialect, table: &TableName, opts: DdlOptions) -> Result<Vec<String>> {
        if d == Dialect::Sqlite && self.needs_rebuild() {
            return self.sqlite_rebuild(table, opts);
        }
        let qt = table.quoted(d)?;
        let q = |n: &str| d.quote_ident(n);
        let alter = |rest: String| format!("ALTER TABLE {qt} {rest}");
        let new_col = |name: &str| -> Result<&Column> {
            self.new.column(name).ok_or_else(|| {
                Error::interface(format!("column {name:?} is not in the diff's new schema"))
            })
        };
        let unsupported = |what: String| {
            Error::new(
                ErrorKind::UnsupportedType,
                format!("{d} cannot {what} with ALTER TABLE"),
            )
        };
        let mut pre = Vec::new();
        let mut out = Vec::new();
        let mut post = Vec::new();
        for c in &self.changes {
            match c {
                Change::AddColumn { column } => {
                    let def = column_def(d, column, opts)?;
                    out.push(alter(match d {
                        Dialect::Mssql => format!("ADD {def}"),
                        _ => format!("ADD COLUMN {def}"),
                    }));
                }
                Change::DropColumn { column } => {
                    out.push(alter(format!("DROP COLUMN {}", q(&column.name)?)))
                }
                Change::RenameCandidate { .. } => {}
                Change::RenameColumn { from, to } => out.push(match d {
                    Dialect::Mssql => format!(
                        "EXEC sp_rename {}, {}, N'COLUMN'",
                        d.quote_literal(&format!("{qt}.{}", q(from)?)),
                        d.quote_literal(to)
                    ),
                    _ => alter(format!("RENAME COLUMN {} TO {}", q(from)?, q(to)?)),
                }),
                Change::AlterType { column, to, .. } => {
                    let col = new_col(column)?;
                    match d {
                        Dialect::Mysql => out.push(alter(format!(
                            "MODIFY COLUMN {}",
                            column_def(d, col, opts)?
                        ))),
                        Dialect::Mssql => out.push(alter(format!(
                            "ALTER COLUMN {} {}{}",
                            q(column)?,
                            render_type(d, to, Some(column), opts)?,
                            if col.nullable { " NULL" } else { " NOT NULL" }
                        ))),
                        _ => {
                            let ty = render_type(d, to, Some(column), opts)?;
                            if ty.contains(" CHECK ") {
                                return Err(unsupported(format!(
                                    "change column {column:?} to {to} (a CHECK-constrained ENUM)"
                                )));
                            }
                            let rest = match d {
                                Dialect::Postgres => format!(
                                    "ALTER COLUMN {} TYPE {ty} USING {}::{ty}",
                                    q(column)?,
                                    q(column)?
                                ),
                                Dialect::Redshift => {
                                    format!("ALTER COLUMN {} TYPE {ty}", q(column)?)
                                }
                                _ => format!("ALTER COLUMN {} SET DATA TYPE {ty}", q(column)?),
                            };
                            out.push(alter(rest));
                        }
                    }
                }
                Change::SetNullable { column, nullable } => {
                    let col = new_col(column)?;
                    match d {
                        Dialect::Mysql => out.push(alter(format!(
                            "MODIFY COLUMN {}",
                            column_def(d, col, opts)?
                        ))),
                        Dialect::Mssql => out.push(alter(format!(
                            "ALTER COLUMN {} {}{}",
                            q(column)?,
                            render_type(d, &col.data_type, Some(column), opts)?,
                            if *nullable { " NULL" } else { " NOT NULL" }
                        ))),
                        Dialect::Bigquery if !nullable => {
                            return Err(unsupported(format!("make {column:?} NOT NULL")))
                        }
                        _ => out.push(alter(format!(
                            "ALTER COLUMN {} {} NOT NULL",
                            q(column)?,
                            if *nullable { "DROP" } else { "SET" }
                        ))),
                    }
                }
                Change::SetDefault { column, default } => match (
                    d,
                    default
                        .as_ref()
                        .map(|expr| {
                            let mut c = self.new.column(column).cloned().unwrap_or_else(|| {
                                Column::new(column, LogicalType::String(None), true)
                            });
                            c.default = Some(expr.clone());
                            super::defaults::default_expr(d, &c)
                        })
                        .transpose()?,
                ) {
                    (Dialect::Mssql, Some(expr)) => {
                        out.push(alter(format!("ADD DEFAULT {expr} FOR {}", q(column)?)))
                    }
                    (Dialect::Mssql, None) => {
                        return Err(unsupported(format!(
                            "drop the default of {column:?} (its constraint name is needed)"
                        )))
                    }
                    (_, Some(expr)) => out.push(alter(format!(
                        "ALTER COLUMN {} SET DEFAULT {expr}",
                        q(column)?
                    ))),
                    (_, None) => {
                        out.push(alter(format!("ALTER COLUMN {} DROP DEFAULT", q(column)?)))
                    }
                },
                Change::SetPrimaryKey { from, to } => {
                    if !from.is_empty() {
                        pre.push(match d {
                            Dialect::Postgres | Dialect::Redshift | Dialect::Mssql => {
                                let name =
                                    match (&self.old.primary_key_name, d) {
                                        (Some(n), _) => n.clone(),
                                        (None, Dialect::Mssql) => return Err(unsupported(
                                            "drop a primary key whose constraint name is unknown"
                                                .into(),
                                        )),
                                        (None, _) => format!("{}_pkey", table.name()),
                                    };
                                alter(format!("DROP CONSTRAINT {}", q(&name)?))
                            }
                            _ => alter("DROP PRIMARY KEY".into()),
                        });
                    }
                    if !to.is_empty() {
                        let cols = quote_list(d, to)?;
                        post.push(alter(match d {
                            Dialect::Bigquery => format!("ADD PRIMARY KEY ({cols}) NOT ENFORCED"),
                            _ => format!("ADD PRIMARY KEY ({cols})"),
                        }));
                    }
                }
            }
        }
        pre.extend(out);
        pre.extend(post);
        Ok(pre)
    }

    /// SQLite's ALTER TABLE only adds, drops and renames columns.
    fn needs_rebuild(&self) -> bool {
        self.changes.iter().any(|c| match c {
            Change::AddColumn { column } => !column.nullable && column.default.is_none(),
            Change::RenameCandidate { .. } | Change::RenameColumn { .. } => false,
            _ => true,
        })
    }

    /// Rebuild the table: create the new shape, copy the rows, drop the old table,
    /// rename, recreate indexes (of the old table, where their columns still exist).
    fn sqlite_rebuild(&self, table: &TableName, opts: DdlOptions) -> Result<Vec<String>> {
        let d = Dialect::Sqlite;
        let tmp_name = format!("{}__sqlarrow_new", table.name());
        let tmp = table.sibling(&tmp_name);
        let renames = self.renames();
        let source = |new_name: &str| -> Option<String> {
            let old_name = renames.get(new_name).copied().unwrap_or(new_name);
            self.old.column(old_name).map(|c| c.name.clone())
        };
        let new_name_of = |old_name: &str| -> Option<String> {
            let renamed = renames
                .iter()
                .find(|(_, o)| **o == old_name)
                .map(|(n, _)| n.to_string());
            let n = renamed.unwrap_or_else(|| old_name.to_string());
            self.new.column(&n).map(|c| c.name.clone())
        };
        let mut shape = self.new.clone();
        shape.indexes.clear();
        shape.unique = self
            .old
            .unique
            .iter()
            .filter_map(|u| {
                let cols: Option<Vec<String>> = u.columns.iter().map(|c| new_name_of(c)).collect();
                cols.map(|columns| super::UniqueConstraint {
                    name: u.name.clone(),
                    columns,
                })
            })
            .collect();
        let mut stmts = shape.to_ddl_statements(d, &tmp, false, opts)?;
        let mut targets = Vec::new();
        let mut sources = Vec::new();
        for c in &self.new.columns {
            if let Some(src) = source(&c.name) {
                targets.push(d.quote_ident(&c.name)?);
                sources.push(d.quote_ident(&src)?);
            }
        }
        if !targets.is_empty() {
            stmts.push(format!(
                "INSERT INTO {} ({}) SELECT {} FROM {}",
                tmp.quoted(d)?,
                targets.join(", "),
                sources.join(", "),
                table.quoted(d)?
            ));
        }
        stmts.push(format!("DROP TABLE {}", table.quoted(d)?));
        stmts.push(format!(
            "ALTER TABLE {} RENAME TO {}",
            tmp.quoted(d)?,
            d.quote_ident(table.name())?
        ));
        for idx in &self.old.indexes {
            let cols: Option<Vec<String>> = idx.columns.iter().map(|c| new_name_of(c)).collect();
            if let Some(columns) = cols {
                let idx = super::Index {
                    name: idx.name.clone(),
                    columns,
                    unique: idx.unique,
                };
                if let Some(s) = super::ddl::index_statement(d, table, &idx, false)? {
                    stmts.push(s);
                }
            }
        }
        Ok(stmts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(json: &str) -> CanonicalSchema {
        CanonicalSchema::from_json(json).unwrap()
    }

    fn t(s: &str) -> LogicalType {
        s.parse().unwrap()
    }

    #[test]
    fn widening_rules() {
        assert!(is_widening(&t("INT32"), &t("INT64")));
        assert!(!is_widening(&t("INT64"), &t("INT32")));
        assert!(is_widening(&t("UINT32"), &t("INT64")));
        assert!(!is_widening(&t("UINT32"), &t("INT32")));
        assert!(!is_widening(&t("INT32"), &t("UINT64")));
        assert!(is_widening(&t("STRING(10)"), &t("STRING(20)")));
        assert!(!is_widening(&t("STRING(20)"), &t("STRING(10)")));
        assert!(is_widening(&t("STRING(20)"), &t("STRING")));
        assert!(is_widening(&t("INT64"), &t("STRING")));
        assert!(!is_widening(&t("STRING"), &t("INT64")));
        assert!(is_widening(&t("DECIMAL(10,2)"), &t("DECIMAL(12,4)")));
        assert!(!is_widening(&t("DECIMAL(10,2)"), &t("DECIMAL(10,4)")));
        assert!(is_widening(&t("INT32"), &t("DECIMAL(12,2)")));
        assert!(!is_widening(&t("INT64"), &t("DECIMAL(12,2)")));
        assert!(is_widening(&t("INT32"), &t("FLOAT64")));
        assert!(!is_widening(&t("INT64"), &t("FLOAT64")));
        assert!(is_widening(&t("ENUM('a')"), &t("ENUM('a','b')")));
        assert!(!is_widening(&t("ENUM('a','b')"), &t("ENUM('a')")));
        assert!(is_widening(&t("ARRAY<INT16>"), &t("ARRAY<INT32>")));
        assert!(is_widening(&t("DATE"), &t("TIMESTAMP")));
    }

    #[test]
    fn diff_orders_and_flags_changes() {
        let a = schema(
            r#"{"columns": [
                {"name": "id", "type": "INT32", "nullable": false},
                {"name": "name", "type": "STRING(10)"},
                {"name": "old", "type": "DATE"},
                {"name": "amount", "type": "DECIMAL(10,2)", "default": "0"}
            ], "primary_key": ["id"]}"#,
        );
        let b = schema(
            r#"{"columns": [
                {"name": "id", "type": "INT64", "nullable": false},
                {"name": "name", "type": "STRING(5)", "nullable": false},
                {"name": "new", "type": "DATE"},
                {"name": "amount", "type": "DECIMAL(10,2)"},
                {"name": "extra", "type": "BOOL"}
            ], "primary_key": ["id", "name"]}"#,
        );
        let d = diff(&a, &b);
        let ops: Vec<String> = d.changes.iter().map(|c| c.describe()).collect();
        assert_eq!(
            ops,
            vec![
                "drop column \"old\"",
                "column \"old\" may have been renamed to \"new\" (accept_rename to keep its data)",
                "add column \"new\" DATE",
                "add column \"extra\" BOOL",
                "change type of \"id\" from INT32 to INT64 (widening)",
                "change type of \"name\" from STRING(10) to STRING(5) (narrowing)",
                "make \"name\" NOT NULL",
                "drop default of \"amount\"",
                "change primary key from [\"id\"] to [\"id\", \"name\"]",
            ]
        );
        assert!(d.destructive());
        let flags: Vec<bool> = d.changes.iter().map(Change::destructive).collect();
        assert_eq!(
            flags,
            vec![true, false, false, false, false, true, false, false, false]
        );
        let tn = TableName::parse("s.t").unwrap();
        let o = DdlOptions::default();
        let pg = d.to_sql(Dialect::Postgres, &tn, o).unwrap();
        assert_eq!(
            pg,
            vec![
                "ALTER TABLE \"s\".\"t\" DROP CONSTRAINT \"t_pkey\"",
                "ALTER TABLE \"s\".\"t\" DROP COLUMN \"old\"",
                "ALTER TABLE \"s\".\"t\" ADD COLUMN \"new\" DATE",
                "ALTER TABLE \"s\".\"t\" ADD COLUMN \"extra\" BOOLEAN",
                "ALTER TABLE \"s\".\"t\" ALTER COLUMN \"id\" TYPE BIGINT USING \"id\"::BIGINT",
                "ALTER TABLE \"s\".\"t\" ALTER COLUMN \"name\" TYPE VARCHAR(5) USING \"name\"::VARCHAR(5)",
                "ALTER TABLE \"s\".\"t\" ALTER COLUMN \"name\" SET NOT NULL",
                "ALTER TABLE \"s\".\"t\" ALTER COLUMN \"amount\" DROP DEFAULT",
                "ALTER TABLE \"s\".\"t\" ADD PRIMARY KEY (\"id\", \"name\")",
            ]
        );
        let my = d.to_sql(Dialect::Mysql, &tn, o).unwrap();
        assert_eq!(my[0], "ALTER TABLE `s`.`t` DROP PRIMARY KEY");
        assert!(my
            .contains(&"ALTER TABLE `s`.`t` MODIFY COLUMN `name` VARCHAR(5) NOT NULL".to_string()));
        let ms = d.to_sql(Dialect::Mssql, &tn, o);
        assert!(ms.is_err(), "unknown PK name and dropped default on mssql");
        for dialect in [Dialect::Snowflake, Dialect::Redshift] {
            d.to_sql(dialect, &tn, o).unwrap();
        }
        assert!(d.to_sql(Dialect::Bigquery, &tn, o).is_err(), "SET NOT NULL");

        let mut r = d.clone();
        r.accept_rename("old", "new").unwrap();
        assert!(!r
            .changes
            .iter()
            .any(|c| matches!(c, Change::RenameCandidate { .. })));
        assert_eq!(
            r.changes[0],
            Change::RenameColumn {
                from: "old".into(),
                to: "new".into()
            }
        );
        assert!(r.accept_rename("old", "new").is_err());
        let sq = r.to_sql(Dialect::Sqlite, &tn, o).unwrap();
        assert!(
            sq[0].starts_with("CREATE TABLE \"s\".\"t__sqlarrow_new\""),
            "{sq:?}"
        );
        assert_eq!(
            sq[1],
            "INSERT INTO \"s\".\"t__sqlarrow_new\" (\"id\", \"name\", \"new\", \"amount\") SELECT \"id\", \"name\", \"old\", \"amount\" FROM \"s\".\"t\""
        );
        assert_eq!(sq[2], "DROP TABLE \"s\".\"t\"");
        assert_eq!(
            sq[3],
            "ALTER TABLE \"s\".\"t__sqlarrow_new\" RENAME TO \"t\""
        );
    }

    #[test]
    fn simple_sqlite_changes_use_alter() {
        let a = schema(r#"{"columns": [{"name": "a", "type": "INT64"}]}"#);
        let b = schema(
            r#"{"columns": [{"name": "a", "type": "INT64"}, {"name": "b c", "type": "STRING", "nullable": false, "default": "'x'"}]}"#,
        );
        let d = diff(&a, &b);
        assert!(!d.destructive());
        let tn = TableName::parse("t").unwrap();
        assert_eq!(
            d.to_sql(Dialect::Sqlite, &tn, DdlOptions::default())
                .unwrap(),
            vec!["ALTER TABLE \"t\" ADD COLUMN \"b c\" TEXT NOT NULL DEFAULT 'x'"]
        );
        assert!(diff(&a, &a).is_empty());
        let j = serde_json::to_string(&d).unwrap();
        let back: SchemaDiff = serde_json::from_str(&j).unwrap();
        assert_eq!(back, d);
    }
}
