// The appointment screens (list, directory, doctor, visit, own profile),
// wired to the window's state; main.tsx shows whichever is current.

import type { UserSummary } from '../ipc/appointments';
import type { Action, AppState } from '../state/app';
import { AppointmentDetailScreen } from './AppointmentDetail';
import { AppointmentsScreen } from './AppointmentsScreen';
import { DirectoryScreen } from './DirectoryScreen';
import { DoctorPage } from './DoctorPage';
import { MyProfileScreen } from './MyProfile';

export function AppointmentPages({ state, dispatch }: { state: AppState; dispatch: (action: Action) => void }) {
  const go = (screen: AppState['screen']) => dispatch({ type: 'navigate', screen });
  const open = (id: string) => dispatch({ type: 'show_appointment', id });
  const { appointments } = state;
  switch (state.screen) {
    case 'directory':
      return (
        <DirectoryScreen results={appointments.directory} onBack={() => go('home')}
          onResults={(results) => dispatch({ type: 'directory_results', results })}
          onOpenDoctor={(doctorId) => dispatch({ type: 'show_doctor', doctorId })} />
      );
    case 'doctor':
      return appointments.doctorId
        ? <DoctorPage doctorId={appointments.doctorId} onBooked={open} onBack={() => go('directory')} />
        : null;
    case 'appointment':
      return appointments.openId ? (
        <AppointmentDetailScreen state={state} onOpen={open} onBack={() => go('appointments')}
          onWaiting={(appointmentId: string, waiting: boolean, patient: UserSummary) =>
            dispatch({ type: 'room_self', appointmentId, waiting, patient })} />
      ) : null;
    case 'my_profile':
      return <MyProfileScreen onBack={() => go('home')} />;
    default:
      return <AppointmentsScreen state={state} onOpen={open} onFindDoctor={() => go('directory')} onBack={() => go('home')} />;
  }
}
