# The words of a plan that a pathfinder reads aloud to the client, in English.
#
# Another language: copy this file to `<code>.ftl` (ISO 639-1, e.g. `cy.ftl`) in the folder
# named by `[orchestrator] messages_dir`, and translate what you can; a message left out is
# said in English. Keep every { $variable } as it is. Dates, days and months come from the
# `weekday-*` and `month-*` messages below.

## Days and dates

weekday-mon = Monday
weekday-tue = Tuesday
weekday-wed = Wednesday
weekday-thu = Thursday
weekday-fri = Friday
weekday-sat = Saturday
weekday-sun = Sunday
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
# "Tuesday 8 December"; with the year when it is not this year's.
date = { $weekday } { $day } { $month }
date-with-year = { $weekday } { $day } { $month } { $year }
day-today = today
day-tomorrow = tomorrow
day-on = on { $date }
by-today = today
by-tomorrow = by tomorrow
by-date = by { $date }
# Opening hours: "Monday to Friday, 9am to 5pm".
days-range = { $first } to { $last }
days-list = { $days }
hours = { $days }, { $opens } to { $closes }
and = and

## Needs, as a client would say them

need-food = food
need-debt_money = debt and money
need-housing_homelessness = somewhere to live
need-housing_conditions = housing conditions
need-fuel_utilities = energy and water bills
need-mental_health = mental health
need-domestic_abuse = safety from abuse
need-safeguarding = keeping you safe
need-substance_use = drugs and alcohol
need-physical_health_disability = physical health and disability
need-social_isolation = loneliness
need-employment_skills = work and skills
need-digital = getting online
need-transport = transport
need-legal_immigration = legal and immigration advice
need-carer_care = care and support
need-family_children = family and children

## Languages, for interpreters

language-ar = Arabic
language-bn = Bengali
language-cy = Welsh
language-es = Spanish
language-fa = Farsi
language-fr = French
language-gu = Gujarati
language-pa = Punjabi
language-pl = Polish
language-ps = Pashto
language-pt = Portuguese
language-ro = Romanian
language-so = Somali
language-ti = Tigrinya
language-tr = Turkish
language-uk = Ukrainian
language-ur = Urdu
language-other = the language you prefer

## Act now: said first when someone may be in danger and no service could take them

act-now-domestic_abuse = If you are in immediate danger, call 999. If you cannot speak, call 999 and press 55 when asked. The National Domestic Abuse Helpline is free and open day and night: 0808 2000 247.
act-now-safeguarding = If you or someone else is in immediate danger, call 999. To report a concern about a child or an adult at risk, call the council's safeguarding team; out of hours, call 999.
act-now-housing_homelessness = If you have nowhere safe to sleep tonight, call the council's out-of-hours homelessness line or Shelter's free helpline on 0808 800 4444. If you are in immediate danger, call 999.

## A service's offer

# "North Kensington Food Bank can see you on Tuesday 8 December"
offer-when = { $service } can { $channel ->
        [phone] speak to you by phone
        [online] see you online
        [home_visit] visit you at home
        [delivery] deliver to you
       *[in_person] see you
    } { $day }
offer-no-date = { $service } can help with { $need }
offer-distance = , { $distance } away
distance-km = { $km } km
distance-near = less than 0.1 km
capacity = { $capacity ->
        [capacity] it has space now
        [waitlist] it has a waiting list
        [assessment_required] it will need to assess you first
        [no_capacity] it has no space at the moment
       *[unknown] it will confirm whether it has space
    }
capacity-with-wait = { $capacity } ({ $wait })
offer-sentence = { $offer }; { $capacity }.

## Steps

step-signpost = They do not take referrals from us, so please contact them yourself.
step-self-help = You can use it yourself online; we do not need to refer you.
step-eligibility-unknown = They will check whether you qualify.
step-late = That is later than this can wait: it should be sorted { $by }.
step-interim = Until then, you can contact: { $services }.
step-history = Of the { $sent } people we have referred to them for { $need }, { $helped } got the help.
step-also-helping = They are also helping you with { $needs }, so there is one less place to explain things to.
step-contact-withheld = They will contact you through { $referrer }, not directly.
step-interpreter = We will ask them to arrange an interpreter in { $language }.
step-consent-vital = Because your life may be at risk, we will share what they need to know to help you now, even without your agreement.
step-consent-safeguarding = Because someone may be at risk of harm, we will share what they need to know to keep them safe, even without your agreement.
step-consent-needed = We need your agreement before we share your details with them.
step-blocked = { $service } can help with { $need }. Before we can refer you, we need to ask you a few more things.
step-in-house = { $organisation } will help you with { $need } here: { $service }.
step-declined = You decided not to take up help with { $need } for now. You can change your mind at any time.
step-chosen-with-client = You chose this together with us.

## How to reach a service

contact-phone = Call them on { $phone }.
contact-phone-hours = Call them on { $phone } ({ $hours }).
contact-hours = They are open { $hours }.
contact-address = Their address is { $address }.
contact-email = Email them at { $email }.
contact-web = Their website is { $url }.
contact-apply = { $how }

## Fallbacks

fallback-first = If { $first } cannot help, { $offer }.
fallback-second = If neither { $first } nor { $second } can help, { $offer }.

## Needs no service can meet now

unmet-none-in-area = None of the services we work with in your area helps with { $need } yet.
unmet-not-eligible = { $service } said you do not qualify: { $reason }.
unmet-no-space = { $service } has no space at the moment.
unmet-cannot-help = { $count ->
        [one] The service we asked cannot help with { $need } at the moment.
       *[other] The { $count } services we asked cannot help with { $need } at the moment.
    }
unmet-no-answer = { $partner } { $outcome ->
        [timed_out] did not answer in time, so we do not know yet whether they can help with { $need }.
        [unreachable] could not be reached, so we do not know yet whether they can help with { $need }.
        [circuit_open] is not available at the moment, so we could not ask whether they can help with { $need }.
        [skipped] was too busy to ask, so we do not know yet whether they can help with { $need }.
       *[failed] had a problem with its system, so we do not know yet whether they can help with { $need }.
    }
unmet-signposts = Here are services you can contact yourself.

## Who leads

lead-referrer = { $organisation } will coordinate your plan and keep in touch with each service, so you only have to tell your story once.
lead-referrer-because = { $organisation } will coordinate your plan, because { $because }; they will keep in touch with each service, so you only have to tell your story once.
lead-partner = { $partner } will lead your plan, because { $because }; they will work with { $organisation } on the other steps.
lead-because-need = they are helping you with { $need }
lead-because-most = they are helping you with the most things
lead-because-statutory = they are responsible for { $need }
lead-because-preference = you asked for them to

## A plan that is missing answers

incomplete-partner = { $partner } { $outcome ->
        [timed_out] did not answer in time
        [unreachable] could not be reached
        [circuit_open] is not available at the moment
        [skipped] was too busy to ask
       *[failed] had a problem with its system
    }, so this plan may change when they answer.

## The client's copy of their plan (the console prints it)

copy-title = Your plan
copy-title-named = Your plan, { $name }
copy-made-with = Made with { $organisation } on { $date }.
copy-goals = What you want
copy-steps = Your steps
copy-passed = We have passed your details to { $partner }. They will contact you.
copy-passed-from = We have passed your details to { $partner }. They will contact you from { $date }.
copy-not-sent = Nothing has been sent to { $partner } yet.
copy-actions = What you will do
copy-contact-us = If anything changes, or you have not heard from someone when you expected, contact { $organisation }.
