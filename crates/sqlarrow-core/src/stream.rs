//! Where decoded batches go: collected into a result, or sent to a reader through a
//! bounded channel (so a slow consumer stops the decoder and memory stays bounded).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use tokio::sync::{mpsc, oneshot};

use crate::cancel::CancelSlot;
use crate::error::{Error, Result};

/// The destination of an engine's batches.
pub enum Sink {
    Collect {
        schema: Option<SchemaRef>,
        batches: Vec<RecordBatch>,
    },
    Channel {
        schema_tx: Option<oneshot::Sender<Result<SchemaRef>>>,
        tx: mpsc::Sender<Result<RecordBatch>>,
    },
}

impl Sink {
    /// Whether any batch (or, for a channel, the schema) already reached the reader,
    /// after which a failed statement must not be retried.
    pub fn delivered_any(&self) -> bool {
        match self {
            Sink::Collect { batches, .. } => !batches.is_empty(),
            Sink::Channel { schema_tx, .. } => schema_tx.is_none(),
        }
    }
}

impl Sink {
    /// Whether batches are collected (the whole result is wanted, in order).
    pub fn is_collect(&self) -> bool {
        matches!(self, Sink::Collect { .. })
    }

    pub fn collect() -> Self {
        Sink::Collect {
            schema: None,
            batches: Vec::new(),
        }
    }

    /// Announce the schema (before any batch).
    pub fn schema(&mut self, schema: SchemaRef) {
        match self {
            Sink::Collect { schema: s, .. } => *s = Some(schema),
            Sink::Channel { schema_tx, .. } => {
                if let Some(tx) = schema_tx.take() {
                    let _ = tx.send(Ok(schema));
                }
            }
        }
    }

    /// Deliver one batch. Returns false when the reader is gone (stop producing).
    pub async fn batch(&mut self, batch: RecordBatch) -> bool {
        match self {
            Sink::Collect { batches, .. } => {
                batches.push(batch);
                true
            }
            Sink::Channel { tx, .. } => tx.send(Ok(batch)).await.is_ok(),
        }
    }

    /// Deliver the final error (to whichever side is waiting).
    pub async fn fail(&mut self, err: Error) -> Option<Error> {
        match self {
            Sink::Collect { .. } => Some(err),
            Sink::Channel { schema_tx, tx } => {
                if let Some(stx) = schema_tx.take() {
                    let _ = stx.send(Err(err));
                } else {
                    let _ = tx.send(Err(err)).await;
                }
                None
            }
        }
    }
}

/// A reader of batches produced by a background task.
pub struct BatchStream {
    schema: SchemaRef,
    rx: mpsc::Receiver<Result<RecordBatch>>,
    cancel: CancelSlot,
    done: bool,
}

impl BatchStream {
    pub fn new(
        schema: SchemaRef,
        rx: mpsc::Receiver<Result<RecordBatch>>,
        cancel: CancelSlot,
    ) -> Self {
        BatchStream {
            schema,
            rx,
            cancel,
            done: false,
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn cancel_slot(&self) -> CancelSlot {
        self.cancel.clone()
    }

    /// The next batch, `None` at the end.
    pub async fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        let item = self.rx.recv().await;
        if matches!(item, None | Some(Err(_))) {
            self.done = true;
        }
        item
    }

    /// Blocking variant for threads outside the async runtime.
    pub fn blocking_next(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        let item = self.rx.blocking_recv();
        if matches!(item, None | Some(Err(_))) {
            self.done = true;
        }
        item
    }

    /// Stop reading: the producer sees the closed channel, cancels on the server and
    /// returns its connection to the pool.
    pub fn close(&mut self) {
        self.done = true;
        self.rx.close();
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}
