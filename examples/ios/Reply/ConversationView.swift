// The conversation screen: messages, a field to add an incoming message, the chips with progress
// or the reason, the "Add to calendar" action, the compose field, "Write a longer reply"/Stop
// and Send.

import EventKit
import EventKitUI
import PocketLM
import SampleCore
import SwiftUI

struct ConversationView: View {
    @StateObject private var model = ReplyViewModel()
    @State private var incoming = ""
    @State private var editing: EditedEvent?

    var body: some View {
        NavigationView {
            VStack(spacing: 8) {
                ScrollView {
                    LazyVStack(alignment: .leading, spacing: 6) {
                        ForEach(Array(model.messages.enumerated()), id: \.offset) { _, message in
                            HStack {
                                if message.fromMe { Spacer() }
                                Text(message.text)
                                    .padding(8)
                                    .background(message.fromMe ? Color.accentColor.opacity(0.2) : Color.gray.opacity(0.15))
                                    .cornerRadius(10)
                                if !message.fromMe { Spacer() }
                            }
                        }
                    }
                    .padding(.horizontal)
                }

                HStack {
                    TextField("Add an incoming message", text: $incoming)
                        .textFieldStyle(.roundedBorder)
                    Button("Receive") {
                        let text = incoming.trimmingCharacters(in: .whitespacesAndNewlines)
                        guard !text.isEmpty else { return }
                        model.receive(text)
                        incoming = ""
                    }
                }
                .padding(.horizontal)

                chipsRow.padding(.horizontal)

                if let event = model.calendarEvent {
                    Button(event.actionLabel) {
                        if let e = model.addToCalendar() { openEditor(e) }
                    }
                    .buttonStyle(.bordered)
                    .accessibilityIdentifier("pocketlm.calendar")
                    .padding(.horizontal)
                }

                HStack {
                    TextField("Reply", text: $model.compose)
                        .textFieldStyle(.roundedBorder)
                    Button("Send") { model.send() }
                        .disabled(model.compose.trimmingCharacters(in: .whitespaces).isEmpty)
                }
                .padding(.horizontal)

                Button(model.streaming ? "Stop" : "Write a longer reply") { model.writeLongerOrStop() }
                .disabled(!model.streaming && !model.canWriteLonger)
                .padding(.bottom)
            }
            .navigationTitle("Reply")
            .sheet(item: $editing) { EventEditor(event: $0.event) { editing = nil } }
            .toolbar {
                Menu("Conversations") {
                    ForEach(ReplyViewModel.cannedConversations) { canned in
                        Button(canned.title) { model.load(canned.messages) }
                    }
                }
            }
        }
    }

    /// The system's event editor, filled from `event`. Before iOS 17 the editor needs calendar
    /// access (Info.plist: NSCalendarsUsageDescription); from iOS 17 it runs without any.
    private func openEditor(_ event: CalendarEvent) {
        if #available(iOS 17.0, *) {
            editing = EditedEvent(event: event)
        } else {
            EventEditor.store.requestAccess(to: .event) { granted, _ in
                DispatchQueue.main.async { if granted { editing = EditedEvent(event: event) } }
            }
        }
    }

    @ViewBuilder private var chipsRow: some View {
        if model.drafting {
            ProgressView("Drafting replies…")
        } else if let reason = model.reason {
            Text(reason).font(.footnote).foregroundColor(.secondary)
        } else if let error = model.errorMessage {
            Text(error).font(.footnote).foregroundColor(.red)
        } else {
            ScrollView(.horizontal, showsIndicators: false) {
                HStack {
                    ForEach(Array(model.chips.enumerated()), id: \.offset) { index, chip in
                        Button(chip) { model.tapChip(index) }
                            .buttonStyle(.bordered)
                            .accessibilityIdentifier("pocketlm.chip")
                    }
                }
            }
        }
    }
}

/// The event being edited in the calendar sheet.
private struct EditedEvent: Identifiable {
    let id = UUID()
    let event: CalendarEvent
}

/// `EKEventEditViewController` with a new event: title and place from the message, its date and
/// time (the message's words, not parsed) in the notes for the user to set.
private struct EventEditor: UIViewControllerRepresentable {
    static let store = EKEventStore()
    let event: CalendarEvent
    let onDone: () -> Void

    func makeCoordinator() -> Coordinator { Coordinator(onDone: onDone) }

    func makeUIViewController(context: Context) -> EKEventEditViewController {
        let e = EKEvent(eventStore: Self.store)
        e.title = event.title
        e.location = event.place
        e.notes = event.whenText
        let editor = EKEventEditViewController()
        editor.eventStore = Self.store
        editor.event = e
        editor.editViewDelegate = context.coordinator
        return editor
    }

    func updateUIViewController(_ controller: EKEventEditViewController, context: Context) {}

    final class Coordinator: NSObject, EKEventEditViewDelegate {
        let onDone: () -> Void
        init(onDone: @escaping () -> Void) { self.onDone = onDone }

        func eventEditViewController(_ controller: EKEventEditViewController,
                                     didCompleteWith action: EKEventEditViewAction) {
            onDone()
        }
    }
}
