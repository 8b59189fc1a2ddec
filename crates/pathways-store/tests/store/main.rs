//! The store's contract, checked against both backends: every behaviour in `records`,
//! `dispatch`, `cancel`, `lanes`, `safety`, `accounts`, `unmet` and `inbox` runs once on SQLite and once on PostgreSQL
//! (skipped, loudly, when `PATHWAYS_TEST_POSTGRES_URL` is unset).

mod accounts;
mod cancel;
mod data;
mod dispatch;
mod fixtures;
mod inbox;
mod lanes;
mod records;
mod safety;
mod unmet;

/// Declares, in the current module, one test per behaviour listed, each run on a fresh
/// fixture from `$fixture`.
macro_rules! store_suite {
    ($fixture:path) => {
        store_suite!(@tests $fixture;
            records::a_case_round_trips_with_a_server_assigned_id,
            safety::an_unreadable_queued_referral_is_set_aside_and_the_others_are_sent,
            safety::a_backup_is_private_sealed_and_opens_with_the_keys,
            records::unknown_ids_read_as_absent,
            records::the_newest_plan_wins_and_every_plan_is_kept,
            records::a_plan_for_an_unknown_case_is_refused,
            records::opening_again_finds_the_schema_migrated_and_the_data_intact,
            records::audit_entries_round_trip_and_filter,
            records::the_audit_table_rejects_update_and_delete,
            records::audit_entries_with_free_text_are_refused,
            records::audit_codes_outside_the_vocabulary_read_back_as_corrupt,
            records::an_idempotency_key_goes_from_started_to_completed,
            records::concurrent_begins_of_one_key_start_exactly_once,
            records::a_stale_claim_is_taken_over_by_exactly_one_caller,
            records::debug_of_stored_types_shows_no_personal_data,
            dispatch::referrals_are_created_as_drafts_with_a_pending_outbox_row,
            dispatch::create_referrals_is_all_or_nothing,
            dispatch::referrals_for_an_unknown_case_are_refused,
            dispatch::concurrent_claimers_never_share_an_item,
            dispatch::a_sole_daemon_takes_back_the_leases_its_previous_run_left,
            dispatch::an_expired_lease_makes_an_item_claimable_again,
            dispatch::a_retry_waits_for_its_not_before,
            dispatch::delivery_and_failure_update_the_referral,
            dispatch::a_callback_that_overtakes_the_dispatcher_is_kept,
            dispatch::status_history_ignores_repeats_and_stale_reports,
            dispatch::a_status_for_an_unknown_referral_is_an_error,
            dispatch::a_partner_event_is_recorded_once_and_forgotten_if_it_fails,
            dispatch::stuck_referrals_are_found_by_state_and_age,
            dispatch::pathway_stats_count_a_small_dataset,
            dispatch::referrals_are_found_by_key_and_by_their_partners_reference_only,
            safety::the_raw_database_holds_no_personal_data,
            safety::a_sealed_value_moved_or_altered_does_not_open,
            safety::keys_rotate_end_to_end,
            safety::plain_values_from_before_sealing_are_sealed_on_opening,
            safety::a_version_1_database_is_migrated_and_sealed,
            safety::a_plan_step_has_one_live_referral,
            safety::two_daemons_racing_for_one_step_make_one_referral,
            safety::batches_taking_steps_in_opposite_orders_make_one_referral_each,
            safety::erasure_removes_personal_data_and_keeps_the_statistics,
            safety::an_erasure_racing_new_plans_and_referrals_leaves_nothing_behind,
            safety::a_legal_hold_refuses_erasure_until_lifted,
            safety::an_erasure_that_fails_halfway_leaves_the_case_whole,
            safety::cases_due_for_erasure_are_idle_final_unheld_and_not_erased,
            safety::pathway_stats_count_only_the_organisations_cases,
            safety::audit_entries_filter_by_time,
            accounts::users_round_trip_with_their_address_sealed,
            accounts::a_taken_address_or_subject_is_refused_whatever_its_case,
            accounts::setup_links_are_one_time_and_expire,
            accounts::a_password_reset_voids_links_sessions_and_lockout,
            accounts::disabling_a_user_ends_their_sessions,
            accounts::sign_in_locks_after_repeated_failures,
            accounts::sessions_expire_when_idle_or_at_their_absolute_end,
            accounts::two_daemons_share_sessions,
            accounts::the_case_list_is_newest_first_with_counts_and_reference_search,
            accounts::the_case_list_reads_no_sealed_value_and_follows_its_index,
            accounts::a_version_2_database_gets_its_case_list_filled_on_opening,
            accounts::referrals_needing_attention_are_the_refused_and_the_unanswered,
            accounts::cases_are_due_a_follow_up_once_their_referrals_have_ended_and_the_days_passed,
            cancel::a_queued_referral_is_withdrawn_at_once_and_never_claimed,
            cancel::a_cancel_waits_for_a_send_in_flight_then_goes_to_the_partner,
            cancel::a_partner_that_cannot_cancel_leaves_it_cancelled_here_with_a_note,
            cancel::a_referral_finished_meanwhile_settles_its_cancel_without_the_partner,
            cancel::a_send_back_in_the_queue_is_withdrawn_when_its_cancel_comes_due,
            cancel::concurrent_cancel_claimers_never_share_one,
            cancel::erasure_removes_a_cancels_note,
            cancel::a_consent_change_keeps_the_one_it_replaced_sealed_until_erasure,
            cancel::referrals_that_entered_a_state_since_a_time_are_listed_oldest_first,
            cancel::follow_ups_are_sealed_listed_by_period_and_organisation_and_erased,
            lanes::a_claim_takes_no_more_of_a_partner_than_its_room,
            lanes::cancels_are_claimed_within_their_partners_room,
            lanes::every_open_referral_is_listed_once_page_by_page,
            lanes::a_stalled_partners_backlog_is_deferred_and_its_oldest_stay_due,
            lanes::a_claim_whose_partner_was_not_called_is_given_back_unspent,
            unmet::unmet_needs_count_by_need_and_area_most_first,
            unmet::a_newer_plan_replaces_the_unmet_needs_of_the_older,
            unmet::unmet_needs_count_only_the_organisations_cases,
            unmet::unmet_needs_count_the_plans_made_from_from_until_before_to,
            unmet::unmet_needs_of_a_period_follow_their_index,
            unmet::an_erased_case_still_counts_with_its_area,
            unmet::two_daemons_planning_one_case_keep_the_newest_plans_unmet_needs,
            unmet::a_version_3_database_gets_its_areas_and_unmet_needs_filled_on_opening,
            unmet::blocked_needs_and_each_reason_are_counted_apart,
            unmet::a_version_7_database_gets_its_blocked_needs_filled_on_opening,
            inbox::an_inbox_partners_capacity_is_replaced_and_kept_per_partner,
            inbox::an_inbox_partners_answers_are_partner_reports_in_the_history,
        );
    };
    (@tests $fixture:path; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if let Some(fixture) = $fixture(stringify!($name)).await {
                    crate::$module::$name(&fixture).await;
                    fixture.teardown().await;
                }
            }
        )*
    };
}

mod sqlite {
    store_suite!(crate::fixtures::sqlite);
}

mod postgres {
    store_suite!(crate::fixtures::postgres);
}
